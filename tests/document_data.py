"""A commune asking for justificatifs, a household with two children, its parent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from citoyen.models import Child
from citoyen.models import DocumentType
from citoyen.models import Household
from citoyen.models import Organisation
from citoyen.services import households
from citoyen.services.households import Attempt
from tests import factories


@dataclass
class Family:
    town: Organisation
    household: Household
    leo: Child
    ines: Child
    address: DocumentType  # household, 12 months
    insurance: DocumentType  # each child, until 31/08
    pai: DocumentType  # each child, only when requested


def make_family(db, agent, parent=None, name="Martin", town=None) -> Family:
    town = town or factories.organisation(db)
    household = households.create_household(
        db, agent, town, name=name, guardian_first_name="Camille", guardian_last_name=name)
    if parent is not None:
        households.subscribe(db, parent, Attempt("code", code=household.subscription_code),
                             "http://localhost")
    leo = Child(household_id=household.id, first_name="Léo", last_name=name,
                birth_date=date(2017, 3, 8))
    ines = Child(household_id=household.id, first_name="Inès", last_name=name,
                 birth_date=date(2020, 11, 21))
    types = [
        DocumentType(organisation_id=town.id, name="Justificatif de domicile", scope="household",
                     validity_months=12, help_text="De moins de 3 mois."),
        DocumentType(organisation_id=town.id, name="Attestation d'assurance", scope="child",
                     valid_until_day="31/08"),
        DocumentType(organisation_id=town.id, name="PAI", scope="child", asked_of_all=False),
    ]
    db.add_all([leo, ines, *types])
    db.commit()
    db.refresh(household)
    return Family(town, household, leo, ines, *types)


def family_for(db, town, agent, name):
    """Another household of the same commune."""
    household = households.create_household(
        db, agent, town, name=name, guardian_first_name="Karim", guardian_last_name=name)
    return household
