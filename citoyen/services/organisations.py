"""Organisations: the communes served, and the contact details and school-holiday
zone each one sets."""

from __future__ import annotations

import re
import unicodedata

from slugify import slugify
from sqlalchemy import bindparam
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Household
from citoyen.models import HouseholdLink
from citoyen.models import Organisation
from citoyen.services import accounts
from citoyen.services import audit
from citoyen.services import sql
from citoyen.services.booking_rules import SCHOOL_ZONES
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write

CONTACT_FIELDS = ("service_name", "phone", "email", "address", "opening_hours")
FIELD_LABELS = {
    "service_name": "Service",
    "phone": "Téléphone",
    "email": "Adresse e-mail",
    "address": "Adresse",
    "opening_hours": "Horaires d'ouverture",
}
FIELD_LIMITS = {
    "service_name": 150,
    "phone": 30,
    "email": 254,
    "address": 500,
    "opening_hours": 1000,
}


def all_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def for_contact(session: Session, account: Account | None) -> tuple[list[Organisation], list[Organisation]]:
    """« Nous contacter »: the communes of the account's households first, then
    the portal's others (all of them, for a visitor), each in name order."""
    own_ids = set()
    if account is not None:
        own_ids = set(session.scalars(
            select(Household.organisation_id).join(HouseholdLink, HouseholdLink.household_id == Household.id)
            .where(HouseholdLink.account_id == account.id)))
    every = all_organisations(session)
    return [o for o in every if o.id in own_ids], [o for o in every if o.id not in own_ids]


_FIRST_NAMES = sql.Prepared(select(Organisation.name).order_by(Organisation.name).limit(bindparam("limit")))


def first_names(session: Session, limit: int = 2) -> list[str]:
    """The names of the first communes (enough to know whether there is only
    one). Read on every page (the portal's name)."""
    return list(sql.run(session, _FIRST_NAMES, {"limit": limit}).scalars())


def for_postcode(session: Session, postcode: str) -> list[Organisation]:
    """The communes of this deployment that serve a postcode."""
    postcode = (postcode or "").strip().replace(" ", "")
    if not re.fullmatch(r"[0-9]{5}", postcode):
        raise DomainError("Indiquez le code postal de votre commune : 5 chiffres, par exemple 45990.",
                          "postcode")
    found = [o for o in all_organisations(session) if postcode in o.postcodes.split()]
    if not found:
        raise DomainError("Aucune commune de ce portail ne correspond à ce code postal. Vérifiez-le, "
                          "ou utilisez le portail de votre commune.", "postcode")
    return found


NAME_LIMIT = 150
POSTCODES_LIMIT = 200
SLUG_LIMIT = 60


def _name_key(name: str) -> str:
    """Two names that read the same are the same name: any case, any Unicode form."""
    return unicodedata.normalize("NFKC", name).casefold()


def _name(session: Session, name: str, organisation: Organisation | None = None) -> str:
    name = unicodedata.normalize("NFC", " ".join((name or "").split()))
    if not name:
        raise DomainError("Indiquez le nom de la commune, par exemple Ville de Belval-sur-Loire.", "name")
    if len(name) > NAME_LIMIT:
        raise DomainError(f"Le nom ne doit pas dépasser {NAME_LIMIT} caractères.", "name")
    if not name.isprintable():
        raise DomainError("Le nom contient un caractère qui ne s'affiche pas : retapez-le.", "name")
    if not any(character.isalpha() for character in name):
        raise DomainError("Indiquez le nom de la commune en lettres, par exemple Ville de Belval-sur-Loire.",
                          "name")
    # The communes' rows are locked first (PostgreSQL): two administrators
    # naming two communes alike at the same time are checked one after the other.
    others = session.execute(select(Organisation.id, Organisation.name).with_for_update()).all()
    key = _name_key(name)
    if any(_name_key(other) == key for other_id, other in others
           if organisation is None or other_id != organisation.id):
        raise DomainError("Une commune de ce portail porte déjà ce nom.", "name")
    return name


def _postcodes(postcodes: str) -> str:
    """Five plain digits each, separated by spaces, commas or semicolons; each
    kept once, in the order typed."""
    codes: list[str] = []
    for code in re.split(r"[\s,;]+", (postcodes or "").strip()):
        if not code:
            continue
        if not re.fullmatch(r"[0-9]{5}", code):
            raise DomainError(f"« {code[:20]} » n'est pas un code postal : 5 chiffres, par exemple 45990.",
                              "postcodes")
        if code not in codes:
            codes.append(code)
    if not codes:
        raise DomainError("Indiquez au moins un code postal, par exemple 45990.", "postcodes")
    joined = " ".join(codes)
    if len(joined) > POSTCODES_LIMIT:
        raise DomainError(f"Indiquez au plus {(POSTCODES_LIMIT + 1) // 6} codes postaux.", "postcodes")
    return joined


def _zone(zone: str) -> str:
    zone = (zone or "").strip().upper()
    if zone not in SCHOOL_ZONES:
        labels = list(SCHOOL_ZONES.values())
        raise DomainError(
            "Choisissez la zone de vacances scolaires de la commune : "
            + ", ".join(labels[:-1]) + " ou " + labels[-1] + ".",
            "school_zone",
        )
    return zone


def _slug(session: Session, name: str, slug: str | None) -> str:
    """The commune's short identifier (payment settings, ``billing run --commune``):
    the one given, or one made from the name, unique in the portal."""
    taken = set(session.scalars(select(Organisation.slug)))
    if slug is not None:
        slug = slug.strip()
        if not re.fullmatch(rf"[a-z0-9](?:[a-z0-9-]{{0,{SLUG_LIMIT - 2}}}[a-z0-9])?", slug):
            raise DomainError("L'identifiant s'écrit en minuscules sans accents, chiffres et tirets, "
                              f"{SLUG_LIMIT} caractères au plus, par exemple belval.", "slug")
        if slug in taken:
            raise DomainError("Une autre commune de ce portail a déjà cet identifiant.", "slug")
        return slug
    base = slugify(name, max_length=SLUG_LIMIT - 4, word_boundary=True) or "commune"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def create(session: Session, actor: Account | None, name: str, postcodes: str, school_zone: str,
           slug: str | None = None) -> Organisation:
    """A new commune served by the portal: its name, the postcodes families
    find it by, and the zone of its school holidays. ``actor`` is ``None`` for
    the command line of the server."""
    if actor is not None and not actor.is_admin:
        raise Forbidden("Cette action est réservée aux administrateurs.")
    begin_write(session)
    organisation = Organisation(name=_name(session, name), postcodes=_postcodes(postcodes),
                                school_zone=_zone(school_zone))
    organisation.slug = _slug(session, organisation.name, slug)
    session.add(organisation)
    try:
        session.flush()
    except IntegrityError:
        # Another server added a commune with this identifier meanwhile.
        session.rollback()
        if slug is not None:
            raise DomainError("Une autre commune de ce portail vient de recevoir cet identifiant.",
                              "slug") from None
        raise DomainError("Une autre commune de ce portail vient d'être ajoutée sous ce nom : "
                          "vérifiez la liste des communes.", "name") from None
    audit.record(session, actor, "organisation.create", "organisation", organisation.id, organisation.name,
                 f"Codes postaux : {organisation.postcodes} ; {SCHOOL_ZONES[organisation.school_zone]} ; "
                 f"identifiant : {organisation.slug}")
    session.commit()
    return organisation


def update_identity(session: Session, actor: Account, organisation: Organisation, name: str,
                    postcodes: str) -> None:
    """Rename a commune or change the postcodes families find it by. Households
    already in the commune stay in it."""
    if not actor.is_admin:
        raise Forbidden("Cette action est réservée aux administrateurs.")
    begin_write(session)
    # Read again under a row lock: two agents renaming at once write one after the other.
    session.scalar(select(Organisation.id).where(Organisation.id == organisation.id).with_for_update())
    organisation = session.get(Organisation, organisation.id, populate_existing=True)
    if organisation is None:
        raise NotFound("Cette commune n'existe pas.")
    new_name = _name(session, name, organisation)
    new_postcodes = _postcodes(postcodes)
    changes = []
    if new_name != organisation.name:
        changes.append(f"Nom : {organisation.name} → {new_name}")
    if new_postcodes != organisation.postcodes:
        changes.append(f"{'codes' if changes else 'Codes'} postaux : {organisation.postcodes or '(aucun)'} → "
                       f"{new_postcodes}")
    if changes:
        label = organisation.name
        organisation.name = new_name
        organisation.postcodes = new_postcodes
        audit.record(session, actor, "organisation.identity", "organisation", organisation.id, label,
                     " ; ".join(changes))
    session.commit()


def get(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("Cette commune n'existe pas.")
    return organisation


def update_contact(session: Session, actor: Account, organisation: Organisation, **values) -> None:
    """Change what "Nous contacter" shows for a commune."""
    if not actor.is_admin:
        raise Forbidden("Cette action est réservée aux administrateurs.")
    begin_write(session)
    changes = []
    for name in CONTACT_FIELDS:
        value = (values.get(name) or "").strip()
        if len(value) > FIELD_LIMITS[name]:
            raise DomainError(
                f"Ce champ ne doit pas dépasser {FIELD_LIMITS[name]} caractères.", name
            )
        if name == "phone" and value and (
            not re.fullmatch(r"[0-9 +().-]{6,30}", value) or len(re.sub(r"\D", "", value)) < 6
        ):
            raise DomainError("Indiquez un numéro de téléphone, par exemple 01 23 45 67 89.", name)
        if name == "email" and value:
            value = accounts.normalise_email(value, "email")
        if getattr(organisation, name) != value:
            changes.append(FIELD_LABELS[name])
            setattr(organisation, name, value)
    if changes:
        audit.record(
            session,
            actor,
            "organisation.update",
            "organisation",
            organisation.id,
            organisation.name,
            "Champs modifiés : " + ", ".join(changes),
        )
    session.commit()


def set_school_zone(session: Session, actor: Account, organisation: Organisation, zone: str) -> None:
    """Choose the zone whose school holidays open or close the commune's
    activities (those set to close, or to open only, during the holidays)."""
    if not actor.is_admin:
        raise Forbidden("Cette action est réservée aux administrateurs.")
    zone = _zone(zone)
    begin_write(session)
    previous = organisation.school_zone
    if previous != zone:
        organisation.school_zone = zone
        audit.record(
            session,
            actor,
            "organisation.school_zone",
            "organisation",
            organisation.id,
            organisation.name,
            f"{SCHOOL_ZONES.get(previous, previous)} → {SCHOOL_ZONES[zone]}",
        )
    session.commit()
