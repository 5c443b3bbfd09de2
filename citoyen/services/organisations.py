"""Organisations: the communes served, and the contact details and school-holiday
zone each one sets."""

from __future__ import annotations

import re

from sqlalchemy import bindparam
from sqlalchemy import select
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
    if not re.fullmatch(r"\d{5}", postcode):
        raise DomainError("Indiquez le code postal de votre commune : 5 chiffres, par exemple 45990.",
                          "postcode")
    found = [o for o in all_organisations(session) if postcode in o.postcodes.split()]
    if not found:
        raise DomainError("Aucune commune de ce portail ne correspond à ce code postal. Vérifiez-le, "
                          "ou utilisez le portail de votre commune.", "postcode")
    return found


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
    zone = (zone or "").strip().upper()
    if zone not in SCHOOL_ZONES:
        labels = list(SCHOOL_ZONES.values())
        raise DomainError(
            "Choisissez la zone de vacances scolaires de la commune : "
            + ", ".join(labels[:-1]) + " ou " + labels[-1] + ".",
            "school_zone",
        )
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
