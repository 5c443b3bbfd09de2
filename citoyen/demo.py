"""The demo commune: a fictional town, its agents and a few families."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen import passwords
from citoyen.models import Account
from citoyen.models import Child
from citoyen.models import DocumentType
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.models import LedgerEntry
from citoyen.models import Organisation
from citoyen.models.base import utcnow
from citoyen.services import notifications

DEMO_PASSWORD = "Citoyen2026"
TOWN = "Ville de Belval-sur-Loire"

ACCOUNTS = [
    # (email, first name, last name, role)
    ("admin@belval.example", "Nadia", "Roussel", "admin"),
    ("agent@belval.example", "Julien", "Moreau", "agent"),
    ("camille.martin@example.org", "Camille", "Martin", "parent"),
    ("karim.benali@example.org", "Karim", "Benali", "parent"),
    ("sophie.lefebvre@example.org", "Sophie", "Lefebvre", "parent"),
]


HOUSEHOLDS = [
    {
        "household": {"name": "Martin", "family_number": "000001", "subscription_code": "DEMO-MART-IN45",
                      "address_line1": "12 rue des Tilleuls", "postcode": "45990", "city": "Belval-sur-Loire"},
        "guardian": {"first_name": "Camille", "last_name": "Martin", "email": "camille.martin@example.org",
                     "mobile_phone": "06 12 34 56 78"},
        "children": [("Léo", "Martin", "2017-03-08", "École Jules-Ferry", "CE2"),
                     ("Inès", "Martin", "2020-11-21", "École maternelle Les Coquelicots", "Moyenne section")],
    },
    {
        "household": {"name": "Benali", "family_number": "000002", "subscription_code": "DEMO-BENA-LI45",
                      "address_line1": "3 allée du Moulin", "postcode": "45990", "city": "Belval-sur-Loire",
                      "invoice_reference": "F2026-000123", "invoice_amount_cents": 4250},
        "guardian": {"first_name": "Karim", "last_name": "Benali", "email": "karim.benali@example.org",
                     "mobile_phone": "07 98 76 54 32"},
        "children": [("Yasmine", "Benali", "2016-06-14", "École Jules-Ferry", "CM1")],
    },
    {
        "household": {"name": "Lefebvre", "family_number": "000003", "subscription_code": "DEMO-LEFE-BV45",
                      "address_line1": "27 avenue de la Gare", "postcode": "45990", "city": "Belval-sur-Loire"},
        "guardian": {"first_name": "Sophie", "last_name": "Lefèbvre", "email": "sophie.lefebvre@example.org",
                     "mobile_phone": "06 55 44 33 22"},
        "children": [("Hugo", "Lefebvre", "2018-09-30", "École Jules-Ferry", "CE1")],
    },
]


DOCUMENT_TYPES = [
    # (name, help, scope, months, until day, asked of all, activity)
    ("Justificatif de domicile", "Facture d'électricité, de gaz, d'eau ou de téléphone fixe, "
     "ou quittance de loyer, de moins de 3 mois.", "household", 12, "", True, ""),
    ("Avis d'imposition", "Le dernier avis d'imposition (ou de non-imposition), toutes les pages : "
     "il sert au calcul du quotient familial.", "household", None, "31/12", True, ""),
    ("Attestation d'assurance", "Attestation de responsabilité civile et individuelle accident "
     "pour l'année scolaire.", "child", None, "31/08", True, "Accueil périscolaire"),
    ("Carnet de vaccination", "Les pages des vaccinations, avec le nom de l'enfant.", "child",
     None, "", True, ""),
    ("PAI (projet d'accueil individualisé)", "Le PAI signé par le médecin, pour un enfant qui "
     "a une allergie ou un traitement.", "child", None, "31/08", False, "Restauration scolaire"),
]


def add_document_types(session: Session, organisation: Organisation) -> None:
    """The justificatifs the demo commune asks for."""
    for name, help_text, scope, months, until, asked, activity in DOCUMENT_TYPES:
        session.add(DocumentType(
            organisation_id=organisation.id, name=name, help_text=help_text, scope=scope,
            validity_months=months, valid_until_day=until, asked_of_all=asked, needed_for=activity,
        ))


def load(session: Session, settings: Mapping) -> bool:
    """Create the demo data unless it is there already; True if created."""
    if session.scalar(select(Organisation.id).where(Organisation.slug == "belval")) is not None:
        return False
    organisation = Organisation(
            name=TOWN,
            slug="belval",
            postcodes="45990",
            billing_mode="postpaid",
            siret="21450999900017",
            service_name="Service Enfance et Éducation",
            phone="02 38 00 00 00",
            email="enfance@belval.example",
            address="Mairie de Belval-sur-Loire\n1 place de la Mairie\n45990 Belval-sur-Loire",
            opening_hours="Lundi au vendredi : 8 h 30 – 12 h et 13 h 30 – 17 h 30\nSamedi : 9 h – 12 h",
    )
    session.add(organisation)
    session.flush()
    add_document_types(session, organisation)
    demo_households = []
    for values in HOUSEHOLDS:
        household = Household(organisation_id=organisation.id, **values["household"])
        demo_households.append(household)
        household.guardians.append(Guardian(**values["guardian"]))
        for first, last, born, school, class_name in values["children"]:
            household.children.append(Child(
                first_name=first, last_name=last, birth_date=date.fromisoformat(born),
                school=school, class_name=class_name, allows_sport=True, allows_outings=True,
                allows_hospitalisation=True, vaccinations_up_to_date=True,
                insurance_company="Mutuelle de la Loire", doctor_name="Dr Anne Roux",
                doctor_phone="02 38 00 00 00",
            ))
        session.add(household)
        if values["household"]["name"] == "Martin":
            # Some history on the Martins' compte d'avance.
            session.flush()
            session.add(LedgerEntry(household_id=household.id, amount_cents=2000, kind="cash",
                                    label="Paiement en espèces à la mairie"))
    session.flush()
    load_activities(session, organisation, demo_households)
    now = utcnow()
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    created = []
    for email, first, last, role in ACCOUNTS:
        account = Account(
            email=email,
            first_name=first,
            last_name=last,
            role=role,
            password_hash=password_hash,
            activated_at=now,
            terms_accepted_at=now,
            # Demo addresses do not exist: no mail for notifications.
            email_notifications=False,
        )
        session.add(account)
        created.append(account)
    session.flush()
    base_url = settings.get("BASE_URL") or "http://127.0.0.1:5000"
    for account in created:
        if account.role == "parent":
            notifications.notify(
                session,
                account,
                "Bienvenue sur le portail famille",
                "Votre compte est prêt. Bientôt, vous pourrez y rattacher votre foyer avec "
                "le code abonné transmis par la mairie.",
                base_url,
            )
    session.commit()
    return True


def load_activities(session: Session, organisation: Organisation, households: list[Household]) -> None:
    """A school with the usual activities, and the demo children enrolled for the school year."""
    from datetime import time
    from datetime import timedelta

    from citoyen.models import Activity
    from citoyen.models import Enrolment
    from citoyen.models import Site
    from citoyen.services.agenda import local_now

    site = Site(organisation_id=organisation.id, name="Groupe scolaire Jules-Ferry")
    session.add(site)
    session.flush()

    def activity(name, start, end, capacity, **rule):
        row = Activity(organisation_id=organisation.id, site_id=site.id, name=name, weekdays="0134",
                       start_time=start, end_time=end, default_capacity=capacity, school_holidays="closed",
                       **rule)
        session.add(row)
        return row

    morning = activity("Accueil matin", time(7, 30), time(8, 20), 40, book_kind="days", book_days=1,
                       book_time=time(18, 0), cancel_kind="days", cancel_days=1, cancel_time=time(18, 0))
    canteen = activity("Restauration scolaire", time(11, 45), time(13, 30), 120, book_kind="days",
                       book_days=2, book_time=time(12, 0), cancel_kind="days", cancel_days=2,
                       cancel_time=time(12, 0), working_days=True)
    evening = activity("Accueil soir", time(16, 30), time(18, 30), 40, book_kind="hours", book_hours=24,
                       cancel_kind="hours", cancel_hours=24)
    activity("Étude", time(16, 30), time(17, 30), 2, needs_validation=True, book_kind="week", book_days=3,
             book_time=time(12, 0), cancel_kind="week", cancel_days=3, cancel_time=time(12, 0))
    session.flush()
    today = local_now().date()
    start = today - timedelta(days=30)
    end = (today.replace(month=8, day=31) if today.month < 8 else today.replace(year=today.year + 1, month=8,
                                                                                 day=31))
    martin, benali, lefebvre = households
    plan = [(martin.children[0], (morning, canteen)), (martin.children[1], (canteen, evening)),
            (benali.children[0], (canteen, evening)), (lefebvre.children[0], (canteen,))]
    for child, chosen in plan:
        for act in chosen:
            session.add(Enrolment(child_id=child.id, activity_id=act.id, start_date=start, end_date=end,
                                  status="validated"))
    load_billing(session, organisation, martin, {"morning": morning, "canteen": canteen,
                                                 "evening": evening})


def load_billing(session: Session, organisation: Organisation, martin: Household, activities: dict) -> None:
    """Prices by quotient, and last month's invoice of the Martins (whose cash payment
    at the town hall already settles part of it)."""
    from datetime import timedelta

    from citoyen.models import PriceBracket
    from citoyen.services import billing
    from citoyen.services import invoices

    grid = {"morning": ((600, 80), (1200, 120), (None, 160)),
            "canteen": ((600, 120), (1200, 250), (None, 390)),
            "evening": ((600, 110), (1200, 160), (None, 220))}
    for key, rows in grid.items():
        for ceiling, cents in rows:
            session.add(PriceBracket(activity_id=activities[key].id, max_quotient=ceiling, price_cents=cents))
    session.flush()
    last_month = date.today().replace(day=1) - timedelta(days=1)
    first = last_month.replace(day=1)
    leo, ines = martin.children
    lines = [
        invoices.Line(f"Restauration scolaire — {leo.first_name} — 14 jours à 3,90 €", 14, 390, leo.id, False),
        invoices.Line(f"Restauration scolaire — {ines.first_name} (moins de 6 ans) — 14 jours à 3,90 €", 14, 390,
                      ines.id, billing.under_six(ines, first)),
        invoices.Line(f"Accueil soir — {ines.first_name} (moins de 6 ans) — 8 jours à 2,20 €", 8, 220, ines.id,
                      billing.under_six(ines, first)),
    ]
    invoices.issue(session, martin, f"Facture post-paiement pour {billing.month_label(first)}", first,
                   last_month, lines)
    session.add(billing.BilledMonth(household_id=martin.id, month=first))


def summary(created: bool) -> str:
    lines = ["Données de démonstration : " + ("chargées." if created else "déjà présentes.")]
    lines.append(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
    for email, first, last, role in ACCOUNTS:
        label = {"admin": "administrateur", "agent": "agent", "parent": "famille"}[role]
        lines.append(f"  {email:<30} {label} ({first} {last})")
    lines.append("Pour rattacher un compte à son foyer (« Mes abonnements ») :")
    lines.append("  Martin   : code abonné DEMO-MART-IN45")
    lines.append("  Benali   : facture F2026-000123 de 42,50 €")
    lines.append("  Lefebvre : identifiant famille 000003, nom Lefebvre, prénom Sophie")
    return "\n".join(lines)
