"""The family's side of the household: subscribe, see the record, add a child."""

from flask import abort
from flask import flash
from flask import make_response
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user

from citoyen import ratelimit
from citoyen.access import public
from citoyen.blueprints.documents import uploads
from citoyen.blueprints.household import bp
from citoyen.blueprints.household.forms import AddressForm
from citoyen.blueprints.household.forms import BankForm
from citoyen.blueprints.household.forms import ChildAuthorisationsForm
from citoyen.blueprints.household.forms import ChildForm
from citoyen.blueprints.household.forms import ChildGeneralForm
from citoyen.blueprints.household.forms import ChildHealthForm
from citoyen.blueprints.household.forms import CodeForm
from citoyen.blueprints.household.forms import ContactsForm
from citoyen.blueprints.household.forms import FamilyNumberForm
from citoyen.blueprints.household.forms import FiscalForm
from citoyen.blueprints.household.forms import GuardianForm
from citoyen.blueprints.household.forms import IdentityForm
from citoyen.blueprints.household.forms import InvoiceForm
from citoyen.blueprints.household.forms import PhotoForm
from citoyen.blueprints.household.forms import PickupForm
from citoyen.blueprints.util import add_error
from citoyen.blueprints.util import attempt
from citoyen.blueprints.util import base_url
from citoyen.blueprints.util import confirm_page
from citoyen.blueprints.util import form_status
from citoyen.blueprints.util import settings
from citoyen.db import get_session
from citoyen.extensions import csrf
from citoyen.htmx import is_fragment_request
from citoyen.htmx import redirect
from citoyen.htmx import render
from citoyen.services import calendar_feed
from citoyen.services import changes
from citoyen.services import children as child_records
from citoyen.services import households
from citoyen.services import organisations
from citoyen.services.documents import parse_id
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound


def _commune():
    """(the communes served, the one this browser chose or the only one)."""
    found = organisations.all_organisations(get_session())
    if len(found) == 1:
        return found, found[0]
    chosen = session.get("organisation_id")
    return found, next((o for o in found if o.id == chosen), None)


def _subscriptions_page(forms=None, status=200, commune_step=False, postcode="", postcode_error="",
                        matches=()):
    forms = forms or {}
    communes, chosen = _commune()
    return render(
        "household/subscriptions.html",
        several_communes=len(communes) > 1, chosen=chosen,
        commune_step=commune_step or (len(communes) > 1 and chosen is None),
        postcode=postcode, postcode_error=postcode_error, matches=matches,
        linked=households.households_of(get_session(), current_user),
        code_form=forms.get("code") or CodeForm(prefix="code", formdata=None),
        invoice_form=forms.get("invoice") or InvoiceForm(prefix="invoice", formdata=None),
        family_form=forms.get("family_number") or FamilyNumberForm(prefix="family", formdata=None),
        attempts_left=households.attempts_left(get_session(), current_user),
        status=status,
    )


@bp.route("/abonnements")
def subscriptions():
    """Mes abonnements: the households of the account, and « M'abonner »."""
    return _subscriptions_page()


@bp.route("/abonnements/commune", methods=["GET", "POST"])
def choose_commune():
    """Votre commune: when the portal serves several, the family types its postcode,
    then picks its commune if several share that postcode."""
    if request.method == "POST":
        try:
            chosen = organisations.get(get_session(), parse_id(request.form.get("organisation_id")) or 0)
        except NotFound:
            return _subscriptions_page(commune_step=True, status=422,
                                       postcode_error="Choisissez votre commune dans la liste.")
        session["organisation_id"] = chosen.id
        return redirect(url_for("household.subscriptions"))
    postcode = request.args.get("code_postal", "")[:10]
    if "code_postal" not in request.args:
        return _subscriptions_page(commune_step=True)
    try:
        found = organisations.for_postcode(get_session(), postcode)
    except DomainError as error:
        return _subscriptions_page(commune_step=True, postcode=postcode, postcode_error=error.message,
                                   status=422)
    if len(found) == 1:
        session["organisation_id"] = found[0].id
        return redirect(url_for("household.subscriptions"))
    return _subscriptions_page(commune_step=True, postcode=postcode, matches=found)


def _subscribe(method: str, form, **fields):
    if form.validate_on_submit():
        if not ratelimit.hit("subscribe"):
            first = next(iter(fields))
            add_error(form, first, ratelimit.MESSAGE)
            return _subscriptions_page({method: form}, status=429)
        communes, chosen = _commune()
        if len(communes) > 1 and chosen is None:
            return redirect(url_for("household.choose_commune"))
        ok, result = attempt(
            form, households.subscribe, get_session(), current_user,
            households.Attempt(method=method, organisation_id=chosen.id if len(communes) > 1 else None,
                               **{k: v.data for k, v in fields.items()}),
            base_url(),
        )
        if ok:
            flash(f"Votre compte est maintenant rattaché au foyer {result.name}.", "success")
            return redirect(url_for("household.show"))
    return _subscriptions_page({method: form}, status=422 if form.errors else 200)


@bp.route("/abonnements/code", methods=["POST"])
def subscribe_with_code():
    """M'abonner avec votre code abonné."""
    form = CodeForm(prefix="code")
    return _subscribe("code", form, code=form.code)


@bp.route("/abonnements/facture", methods=["POST"])
def subscribe_with_invoice():
    """M'abonner avec une de vos factures."""
    form = InvoiceForm(prefix="invoice")
    return _subscribe("invoice", form, invoice_reference=form.invoice_reference,
                      invoice_amount=form.invoice_amount)


@bp.route("/abonnements/identifiant", methods=["POST"])
def subscribe_with_family_number():
    """M'abonner avec votre identifiant famille."""
    form = FamilyNumberForm(prefix="family")
    return _subscribe("family_number", form, family_number=form.family_number,
                      last_name=form.last_name, first_name=form.first_name)


@bp.route("/foyer")
def show():
    """Mon foyer: guardians, address, contacts, and what waits for the town hall."""
    linked = households.households_of(get_session(), current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    return render("household/show.html", linked=linked,
                  pending={h.id: changes.pending_for(get_session(), h) for h in linked},
                  rows=changes.rows, mask_iban=changes.mask_iban)


def _household(household_id: int):
    try:
        return households.household_for(get_session(), current_user, household_id)
    except NotFound:
        abort(404)


def _section_view(household, section: str, form, guardian=None, child=None):
    """Modifier / Enregistrer one section in place (htmx) or as a page."""
    if child is not None:
        back = url_for("household.child", household_id=household.id, child_id=child.id)
    elif current_user.is_agent:  # an agent editing the record directly
        back = url_for("agent.household", household_id=household.id)
    else:
        back = url_for("household.show")
    if form.validate_on_submit():
        values = {name: getattr(form, name).data or "" for name in changes.SECTIONS[section].fields}
        ok, change = attempt(
            form, changes.propose, get_session(), settings(), current_user, household, section,
            values, base_url(), guardian_id=guardian.id if guardian is not None else None,
            child_id=child.id if child is not None else None,
        )
        if ok:
            if is_fragment_request():
                return _section_fragment(household, section, guardian, child)
            if change.status == "pending":
                flash("Votre modification est transmise. Elle est en attente de validation "
                      "par la mairie.", "success")
            else:
                flash("Votre modification est enregistrée.", "success")
            return redirect(back)
    return render("household/edit_section.html", block="form", form=form, household=household,
                  section=section, guardian=guardian, child=child, back=back,
                  label=changes.SECTIONS[section].label, status=form_status(form))


def _section_fragment(household, section, guardian, child):
    get_session().expire_all()
    pending = changes.pending_for(get_session(), household)
    if child is not None:
        response = render("household/child.html", block="child_section", household=household,
                          child=child, section_name=section, pending=pending, rows=changes.rows,
                          display=changes.display, words=CHILD_WORDS)
        target = f"#{section}-{child.id}"
    else:
        block = "guardian_section" if guardian is not None else f"{section}_section"
        response = render("household/show.html", block=block, household=household, guardian=guardian,
                          pending=pending, rows=changes.rows, mask_iban=changes.mask_iban)
        target = f"#{section}-{household.id}" if guardian is None else f"#guardian-{guardian.id}"
    # The form sits inside the section: the whole section is replaced.
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = "outerHTML"
    return response


@bp.route("/foyer/<int:household_id>/adresse", methods=["GET", "POST"])
def edit_address(household_id: int):
    """Modifier l'adresse du foyer."""
    household = _household(household_id)
    form = AddressForm(obj=household)
    return _section_view(household, "address", form)


@bp.route("/foyer/<int:household_id>/fiscal", methods=["GET", "POST"])
def edit_fiscal(household_id: int):
    """Modifier les informations fiscales (quotient familial)."""
    household = _household(household_id)
    form = FiscalForm(obj=household)
    return _section_view(household, "fiscal", form)


@bp.route("/foyer/<int:household_id>/banque", methods=["GET", "POST"])
def edit_bank(household_id: int):
    """Modifier les coordonnées bancaires."""
    household = _household(household_id)
    form = BankForm(obj=household)
    return _section_view(household, "bank", form)


def _guardian(household, guardian_id: int):
    try:
        return changes.guardian_of(get_session(), household, guardian_id)
    except NotFound:
        abort(404)


def _child(household, child_id: int):
    try:
        return changes.child_of(get_session(), household, child_id)
    except NotFound:
        abort(404)


@bp.route("/foyer/<int:household_id>/responsables/<int:guardian_id>", methods=["GET", "POST"])
def edit_contacts(household_id: int, guardian_id: int):
    """Modifier les coordonnées d'un responsable."""
    household = _household(household_id)
    guardian = _guardian(household, guardian_id)
    return _section_view(household, "contacts", ContactsForm(obj=guardian), guardian)


@bp.route("/foyer/<int:household_id>/responsables/<int:guardian_id>/identite", methods=["GET", "POST"])
def edit_identity(household_id: int, guardian_id: int):
    """Modifier l'identité et l'employeur d'un responsable."""
    household = _household(household_id)
    guardian = _guardian(household, guardian_id)
    return _section_view(household, "identity", IdentityForm(obj=guardian), guardian)


@bp.route("/foyer/<int:household_id>/responsables/nouveau", methods=["GET", "POST"])
def add_guardian(household_id: int):
    """Ajouter un responsable: the record waits for the town hall's validation."""
    household = _household(household_id)
    form = GuardianForm()
    if form.validate_on_submit():
        ok, guardian = attempt(
            form, households.add_guardian, get_session(), current_user, household,
            first_name=form.first_name.data, last_name=form.last_name.data,
            email=form.email.data, mobile_phone=form.mobile_phone.data,
        )
        if ok:
            flash(f"{guardian.full_name} est ajouté(e). L'ajout est en attente de validation "
                  "par la mairie." if guardian.status == "pending" else
                  f"{guardian.full_name} est ajouté(e).", "success")
            return redirect(_household_home(household))
    return render("household/add_guardian.html", block="form", form=form, household=household,
                  status=form_status(form))


def _household_home(household, family_page: str | None = None) -> str:
    """Where an addition leads back: the agent's page of the household, or the family's own."""
    if current_user.is_agent:
        return url_for("agent.household", household_id=household.id)
    return family_page or url_for("household.show")


@bp.route("/foyer/<int:household_id>/modifications/<int:change_id>/retirer", methods=["GET", "POST"])
def withdraw_change(household_id: int, change_id: int):
    """Retirer une modification en attente, after a confirmation page. One the
    town hall has decided meanwhile (or withdrawn from another tab) is said so."""
    household = _household(household_id)
    try:
        change = changes.change_of(get_session(), household, change_id)
    except NotFound:
        abort(404)
    back = (url_for("household.child", household_id=household.id, child_id=change.child_id)
            if change.child_id else url_for("household.show"))
    if change.status != changes.CHANGE_PENDING:
        flash(changes.NO_LONGER_PENDING, "info")
        return redirect(back)
    if request.method == "GET":
        changed = [f"{label} : « {before or 'vide'} » → « {after or 'vide'} »"
                   for label, before, after, diff in changes.rows(change) if diff]
        return confirm_page(
            f"Retirer {'la' if current_user.is_agent else 'votre'} modification « {changes.section_label(change)} »",
            [*changed, "La mairie ne l'examinera pas et les informations resteront comme avant. "
                       "Vous pourrez faire une nouvelle demande."],
            "Retirer cette modification",
            url_for("household.withdraw_change", household_id=household.id, change_id=change.id), back)
    try:
        changes.withdraw(get_session(), current_user, household, change_id, base_url())
    except NotFound as error:  # decided between the page and the click
        flash(error.message, "info")
        return redirect(back)
    flash("La modification est retirée ; la famille en est prévenue." if current_user.is_agent
          else "Votre modification est retirée.", "success")
    return redirect(back)


@bp.route("/enfants")
def children():
    """Mes enfants."""
    linked = households.households_of(get_session(), current_user)
    if not linked:
        return redirect(url_for("household.subscriptions"))
    return render("household/children.html", linked=linked)


@bp.route("/foyer/<int:household_id>/enfants/nouveau", methods=["GET", "POST"])
def add_child(household_id: int):
    """Ajouter un enfant: the record waits for the town hall's validation."""
    household = _household(household_id)
    form = ChildForm()
    if form.validate_on_submit():
        ok, child = attempt(
            form, households.add_child, get_session(), current_user, household,
            first_name=form.first_name.data, last_name=form.last_name.data,
            birth_date=form.birth_date.data, school=form.school.data,
            class_name=form.class_name.data,
        )
        if ok:
            flash(f"La fiche de {child.first_name} est enregistrée. "
                  "Elle est en attente de validation par la mairie." if child.status == "pending" else
                  f"La fiche de {child.first_name} est enregistrée.", "success")
            return redirect(_household_home(household, url_for("household.children")))
    return render("household/add_child.html", block="form", form=form, household=household,
                  status=form_status(form))


# ---------------------------------------------------------------- a child's record

# URL word → (section, form)
CHILD_SECTIONS = {
    "informations": ("child_general", ChildGeneralForm),
    "autorisations": ("child_authorisations", ChildAuthorisationsForm),
    "sante": ("child_health", ChildHealthForm),
}
CHILD_WORDS = {section: word for word, (section, _) in CHILD_SECTIONS.items()}


def _child_page(household, child, photo_form=None, status=200):
    return render(
        "household/child.html", household=household, child=child,
        pending=changes.pending_for(get_session(), household), rows=changes.rows,
        display=changes.display, words=CHILD_WORDS,
        photo_form=photo_form or PhotoForm(formdata=None), status=status,
        calendar_url=(base_url() + url_for("household.calendar", token=child.calendar_token))
        if child.calendar_token else "",
    )


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>")
def child(household_id: int, child_id: int):
    """La fiche d'un enfant: informations générales, autorisations, données sanitaires,
    photo, personnes autorisées à le récupérer."""
    household = _household(household_id)
    return _child_page(household, _child(household, child_id))


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/<word>", methods=["GET", "POST"])
def edit_child(household_id: int, child_id: int, word: str):
    """Modifier une partie de la fiche d'un enfant."""
    household = _household(household_id)
    target = _child(household, child_id)
    if word not in CHILD_SECTIONS:
        abort(404)
    section, form_class = CHILD_SECTIONS[word]
    return _section_view(household, section, form_class(obj=target), child=target)


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/photo.jpg")
def child_photo(household_id: int, child_id: int):
    """The photo, only to the household's guardians and agents."""
    household = _household(household_id)
    target = _child(household, child_id)
    if target.photo is None:
        abort(404)
    response = make_response(target.photo.data)
    response.headers["Content-Type"] = "image/jpeg"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/photo", methods=["POST"])
@csrf.exempt  # checked by uploads.parse_body, once the body is read under the photo's bound
def upload_child_photo(household_id: int, child_id: int):
    """Changer la photo: re-encoded small, without its metadata."""
    within_bound = uploads.parse_body(child_records.PHOTO_MAX_BYTES + 64 * 1024)
    household = _household(household_id)
    target = _child(household, child_id)
    if not within_bound:
        form = PhotoForm(formdata=None)
        add_error(form, "photo", "Cette photo est trop lourde : 8 Mo maximum.")
        return _child_page(household, target, form, status=422)
    form = PhotoForm()
    valid = form.validate_on_submit()
    if valid:
        upload = form.photo.data
        data = upload.stream.read(child_records.PHOTO_MAX_BYTES + 1) if upload else b""
        ok, _ = attempt(form, child_records.set_photo, get_session(), current_user, household,
                        target.id, data)
        if ok:
            flash("La photo est enregistrée.", "success")
            return redirect(url_for("household.child", household_id=household.id, child_id=target.id))
    return _child_page(household, target, form, status=422)


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/photo/retirer", methods=["GET", "POST"])
def remove_child_photo(household_id: int, child_id: int):
    """Retirer la photo, after a confirmation page."""
    household = _household(household_id)
    target = _child(household, child_id)
    back = url_for("household.child", household_id=household.id, child_id=target.id)
    if request.method == "GET":
        if not target.photo:
            return redirect(back)
        return confirm_page(
            f"Retirer la photo de {target.first_name}",
            [f"Les animateurs ne verront plus de photo de {target.first_name}. "
             "Vous pourrez en envoyer une autre à tout moment."],
            "Retirer la photo",
            url_for("household.remove_child_photo", household_id=household.id, child_id=target.id), back)
    child_records.remove_photo(get_session(), current_user, household, target.id)
    flash("La photo est retirée.", "success")
    return redirect(url_for("household.child", household_id=household.id, child_id=target.id))


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/personnes")
def pickups(household_id: int, child_id: int):
    """Gérer les personnes autorisées à récupérer mon enfant."""
    household = _household(household_id)
    return render("household/pickups.html", household=household, child=_child(household, child_id))


def _pickup_form_view(household, target, form, pickup=None):
    if form.validate_on_submit():
        values = {name: getattr(form, name).data for name in ("first_name", "last_name", "relation", "phone")}
        if pickup is None:
            ok, result = attempt(form, child_records.add_pickup, get_session(), current_user, household,
                                 target.id, **values)
        else:
            ok, result = attempt(form, child_records.edit_pickup, get_session(), current_user, household,
                                 target.id, pickup.id, **values)
        if ok:
            flash(f"{result.full_name} est autorisé(e) à récupérer {target.first_name}.", "success")
            return redirect(url_for("household.pickups", household_id=household.id, child_id=target.id))
    return render("household/pickup_form.html", block="form", form=form, household=household,
                  child=target, pickup=pickup, status=form_status(form))


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/personnes/nouvelle", methods=["GET", "POST"])
def add_pickup(household_id: int, child_id: int):
    """Ajouter une nouvelle personne."""
    household = _household(household_id)
    return _pickup_form_view(household, _child(household, child_id), PickupForm())


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/personnes/<int:pickup_id>",
          methods=["GET", "POST"])
def edit_pickup(household_id: int, child_id: int, pickup_id: int):
    """Modifier une personne autorisée. Saved once removed meanwhile (by the
    other parent, or from another tab), it is said so, and what was typed is
    kept, in the form that adds a person."""
    household = _household(household_id)
    target = _child(household, child_id)
    try:
        pickup = child_records.get_pickup(get_session(), household, target.id, pickup_id)
    except NotFound:
        if request.method == "GET":
            abort(404)
        gone = f"Cette personne n'est plus autorisée à récupérer {target.first_name}."
        form = PickupForm()
        form.validate()
        form.form_errors.append(f"{gone} Pour l'autoriser de nouveau, enregistrez ce formulaire.")
        return render("household/pickup_form.html", block="form", form=form, household=household, child=target,
                      pickup=None, action=url_for("household.add_pickup", household_id=household.id,
                                                  child_id=target.id), status=422)
    return _pickup_form_view(household, pickup.child, PickupForm(obj=pickup), pickup)


@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/personnes/<int:pickup_id>/retirer",
          methods=["GET", "POST"])
def remove_pickup(household_id: int, child_id: int, pickup_id: int):
    """Retirer une personne autorisée, after a confirmation page. One already
    removed (by the other parent, or from another tab) is said so."""
    household = _household(household_id)
    target = _child(household, child_id)
    back = url_for("household.pickups", household_id=household_id, child_id=target.id)
    gone = f"Cette personne n'est plus autorisée à récupérer {target.first_name}."
    try:
        pickup = child_records.get_pickup(get_session(), household, target.id, pickup_id)
    except NotFound:
        flash(gone, "info")
        return redirect(back)
    name = pickup.full_name
    if request.method == "GET":
        return confirm_page(
            f"Retirer {name}",
            [f"{name} ne pourra plus venir chercher {target.first_name} à la fin des activités."],
            f"Retirer {name}",
            url_for("household.remove_pickup", household_id=household_id, child_id=child_id, pickup_id=pickup_id),
            back)
    try:
        child_records.remove_pickup(get_session(), current_user, household, target.id, pickup_id)
    except NotFound:  # removed between the page and the click
        flash(gone, "info")
        return redirect(back)
    flash(f"{name} n'est plus autorisé(e) à récupérer l'enfant.", "success")
    return redirect(back)


# ---------------------------------------------------------------- calendar feed

@bp.route("/foyer/<int:household_id>/enfants/<int:child_id>/calendrier", methods=["GET", "POST"])
def renew_calendar(household_id: int, child_id: int):
    """Créer l'adresse secrète du calendrier des réservations; en créer une
    nouvelle (l'ancienne cesse de fonctionner) after a confirmation page."""
    household = _household(household_id)
    target = _child(household, child_id)
    renewed = target.calendar_token is not None
    back = url_for("household.child", household_id=household.id, child_id=target.id) + "#calendrier"
    if request.method == "GET":
        if not renewed:
            return redirect(back)
        return confirm_page(
            "Créer une nouvelle adresse du calendrier",
            [f"L'adresse actuelle ne fonctionnera plus : les agendas qui l'utilisent ne recevront plus "
             f"les réservations de {target.first_name}. Il faudra y copier la nouvelle adresse."],
            "Créer une nouvelle adresse",
            url_for("household.renew_calendar", household_id=household.id, child_id=target.id), back)
    calendar_feed.renew(get_session(), current_user, household, target.id)
    flash("Nouvelle adresse créée : l'ancienne ne fonctionne plus." if renewed else
          "L'adresse du calendrier est créée.", "success")
    return redirect(back)


@bp.route("/calendrier/<token>.ics")
@public
def calendar(token: str):
    """The private iCalendar feed: only its secret address gives it."""
    try:
        content = calendar_feed.feed(get_session(), token)
    except NotFound:
        abort(404)
    response = make_response(content)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=900"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
