"""Tables, one module per aggregate."""

from citoyen.models.accounts import Account
from citoyen.models.accounts import AccountToken
from citoyen.models.agenda import Absence
from citoyen.models.agenda import Activity
from citoyen.models.agenda import Booking
from citoyen.models.agenda import Closure
from citoyen.models.agenda import Enrolment
from citoyen.models.agenda import Site
from citoyen.models.agenda import Slot
from citoyen.models.audit import AuditEntry
from citoyen.models.base import Base
from citoyen.models.households import ChangeSet
from citoyen.models.households import Child
from citoyen.models.households import Guardian
from citoyen.models.households import Household
from citoyen.models.households import HouseholdLink
from citoyen.models.households import SubscriptionFailure
from citoyen.models.identities import ExternalIdentity
from citoyen.models.notifications import Notification
from citoyen.models.organisations import Organisation
from citoyen.models.outbox import OutboxMessage

__all__ = [
    "Account",
    "AccountToken",
    "Absence",
    "Activity",
    "Booking",
    "Closure",
    "Enrolment",
    "Site",
    "Slot",
    "AuditEntry",
    "Base",
    "ChangeSet",
    "Child",
    "Guardian",
    "Household",
    "HouseholdLink",
    "SubscriptionFailure",
    "ExternalIdentity",
    "Notification",
    "Organisation",
    "OutboxMessage",
]
