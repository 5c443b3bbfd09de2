"""Forms of « M'abonner » and of the household record."""

from flask_wtf.file import FileField
from wtforms import BooleanField
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.validators import Length
from wtforms.validators import Optional

from citoyen.blueprints.fields import Form
from citoyen.blueprints.fields import FrenchDateField
from citoyen.blueprints.fields import one_line_break
from citoyen.blueprints.fields import required
from citoyen.services import changes


def _text(label, limit, message=None, autocomplete="off", optional=False):
    validators = [Length(max=limit, message=f"Ce champ ne doit pas dépasser {limit} caractères.")]
    if not optional:
        validators.insert(0, required(message or "Ce champ est obligatoire."))
    return StringField(label, validators=validators,
                       render_kw={"maxlength": limit, "autocomplete": autocomplete})


class CodeForm(Form):
    code = _text("Code abonné", 20, "Indiquez le code abonné.")


class InvoiceForm(Form):
    invoice_reference = _text("Référence de la facture", 40, "Indiquez la référence de la facture.")
    invoice_amount = StringField(
        "Montant de la facture",
        validators=[required("Indiquez le montant de la facture."), Length(max=20)],
        render_kw={"inputmode": "decimal", "maxlength": 20, "autocomplete": "off"},
        description="En euros, par exemple 42,50",
    )


class FamilyNumberForm(Form):
    family_number = _text("Identifiant famille", 20, "Indiquez l'identifiant famille.")
    last_name = _text("Nom de famille", 100, "Indiquez le nom de famille.", "family-name")
    first_name = _text("Prénom", 100, "Indiquez le prénom.", "given-name")


class ChildForm(Form):
    first_name = _text("Prénom", 100, "Indiquez le prénom de l'enfant.")
    last_name = _text("Nom", 100, "Indiquez le nom de l'enfant.")
    birth_date = FrenchDateField(
        "Date de naissance",
        validators=[required("Indiquez la date de naissance.")],
        description="Exemple : 14/09/2018",
    )
    school = _text("École", 150, optional=True)
    class_name = _text("Classe", 50, optional=True)


def organisation_field():
    """Agent side, when the portal serves several communes: which one."""
    return SelectField("Commune", coerce=str, validate_choice=False)


def set_organisation_choices(form, communes) -> None:
    form.organisation_id.choices = [SelectChoice(str(o.id), o.name) for o in communes]


def chosen_organisation(form, communes):
    """The commune picked in the form, or the only one."""
    if len(communes) == 1:
        return communes[0]
    return next((o for o in communes if str(o.id) == (form.organisation_id.data or "")), None)


class HouseholdForm(Form):
    """Agent side: a new household and its first guardian."""

    organisation_id = organisation_field()
    name = _text("Nom du foyer", 150, "Indiquez le nom du foyer.")
    address_line1 = _text("Adresse", 200, optional=True, autocomplete="address-line1")
    address_line2 = _text("Complément d'adresse", 200, optional=True, autocomplete="address-line2")
    postcode = _text("Code postal", 10, optional=True, autocomplete="postal-code")
    city = _text("Commune", 100, optional=True, autocomplete="address-level2")
    guardian_last_name = _text("Nom du responsable", 100, "Indiquez le nom du responsable.")
    guardian_first_name = _text("Prénom du responsable", 100, "Indiquez le prénom du responsable.")
    guardian_email = _text("Adresse e-mail du responsable", 254, optional=True)
    guardian_phone = _text("Téléphone portable du responsable", 30, optional=True)
    family_number = StringField(
        "Identifiant famille", validators=[Optional(), Length(max=20)],
        description="Laissez vide pour le numéro suivant.", render_kw={"maxlength": 20},
    )
    invoice_reference = _text("Référence d'une facture", 40, optional=True)
    invoice_amount = _text("Montant de cette facture", 20, optional=True)


class AddressForm(Form):
    address_line1 = _text("Adresse", 200, optional=True, autocomplete="address-line1")
    address_line2 = _text("Complément d'adresse", 200, optional=True, autocomplete="address-line2")
    postcode = _text("Code postal", 10, optional=True, autocomplete="postal-code")
    city = _text("Commune", 100, optional=True, autocomplete="address-level2")


class ContactsForm(Form):
    mobile_phone = _text("Téléphone portable", 30, optional=True, autocomplete="tel")
    email = _text("Adresse e-mail", 254, optional=True, autocomplete="email")


class FiscalForm(Form):
    family_quotient = StringField(
        "Quotient familial", validators=[Length(max=10)],
        render_kw={"inputmode": "numeric", "maxlength": 10, "autocomplete": "off"},
        description="En euros, tel qu'il figure sur l'attestation de la CAF, par exemple 850.",
    )
    quotient_year = StringField(
        "Année de référence du quotient", validators=[Length(max=4)],
        render_kw={"inputmode": "numeric", "maxlength": 4, "autocomplete": "off"},
    )


class BankForm(Form):
    account_holder = _text("Titulaire du compte", 100, optional=True)
    iban = StringField(
        "IBAN", validators=[Length(max=42)],
        render_kw={"maxlength": 42, "autocomplete": "off", "spellcheck": "false"},
        description="Sur votre relevé d'identité bancaire, par exemple FR76 3000 6000 0112 3456 7890 189.",
    )
    bic = _text("BIC", 11, optional=True)


class IdentityForm(Form):
    last_name = _text("Nom", 100, "Indiquez le nom.", "family-name")
    first_name = _text("Prénom", 100, "Indiquez le prénom.", "given-name")
    employer = _text("Employeur", 150, optional=True, autocomplete="organization")
    work_phone = _text("Téléphone professionnel", 30, optional=True, autocomplete="tel")


class GuardianForm(Form):
    """Ajouter un responsable: a second guardian, pending the town hall."""

    last_name = _text("Nom", 100, "Indiquez le nom.")
    first_name = _text("Prénom", 100, "Indiquez le prénom.")
    email = _text("Adresse e-mail", 254, optional=True)
    mobile_phone = _text("Téléphone portable", 30, optional=True)


class ChildGeneralForm(Form):
    last_name = _text("Nom", 100, "Indiquez le nom de l'enfant.")
    first_name = _text("Prénom", 100, "Indiquez le prénom de l'enfant.")
    birth_date = FrenchDateField(
        "Date de naissance",
        validators=[required("Indiquez la date de naissance.")],
        description="Exemple : 14/09/2018",
    )
    sex = SelectField("Sexe", choices=[SelectChoice(v, label) for v, label in changes.SEXES.items()])
    school = _text("École", 150, optional=True)
    class_name = _text("Classe", 50, optional=True)
    insurance_company = _text("Compagnie d'assurance", 150, optional=True)
    insurance_policy = _text("Numéro de contrat d'assurance", 50, optional=True)


def _flags(section: str) -> type:
    """A form of checkboxes, one per yes/no field of the section."""
    fields = {name: BooleanField(spec.label) for name, spec in changes.SECTIONS[section].fields.items()}
    return type(f"{section.title().replace('_', '')}Form", (Form,), fields)


ChildAuthorisationsForm = _flags("child_authorisations")


class ChildHealthForm(Form):
    allergies = TextAreaField(
        "Allergies", filters=[one_line_break],
        validators=[Length(max=1000, message="Ce champ ne doit pas dépasser 1000 caractères.")],
        description="Aliments, médicaments, piqûres… Laissez vide s'il n'y en a pas.",
        render_kw={"rows": 3, "maxlength": 1000},
    )
    diet = SelectField("Régime alimentaire", choices=[SelectChoice(v, label) for v, label in changes.DIETS.items()])
    pai = BooleanField("Projet d'accueil individualisé (PAI)")
    doctor_name = _text("Médecin traitant", 150, optional=True)
    doctor_phone = _text("Téléphone du médecin", 30, optional=True)
    vaccinations_up_to_date = BooleanField("Vaccinations à jour")
    glasses = BooleanField("Porte des lunettes")
    dental_appliance = BooleanField("Porte un appareil dentaire")
    hearing_aid = BooleanField("Porte un appareil auditif")


class PickupForm(Form):
    last_name = _text("Nom", 100, "Indiquez le nom.")
    first_name = _text("Prénom", 100, "Indiquez le prénom.")
    relation = _text("Lien avec l'enfant", 60, optional=True)
    phone = StringField(
        "Téléphone", validators=[required("Indiquez un téléphone."), Length(max=30)],
        description="Par exemple 06 12 34 56 78",
        render_kw={"maxlength": 30, "autocomplete": "off", "inputmode": "tel"},
    )


class PhotoForm(Form):
    photo = FileField(
        "Photo de l'enfant",
        description="Formats acceptés : .jpg, .png — 8 Mo maximum",
        render_kw={"accept": "image/jpeg,image/png"},
    )
