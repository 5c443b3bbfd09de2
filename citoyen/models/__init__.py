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
from citoyen.models.documents import ActivityRequirement
from citoyen.models.documents import Document
from citoyen.models.documents import DocumentFile
from citoyen.models.documents import DocumentType
from citoyen.models.households import AuthorizedPickup
from citoyen.models.households import ChangeSet
from citoyen.models.households import Child
from citoyen.models.households import ChildPhoto
from citoyen.models.households import Guardian
from citoyen.models.households import Household
from citoyen.models.households import HouseholdLink
from citoyen.models.households import SubscriptionFailure
from citoyen.models.identities import ExternalIdentity
from citoyen.models.money import BilledMonth
from citoyen.models.money import BillingRun
from citoyen.models.money import Invoice
from citoyen.models.money import InvoiceCounter
from citoyen.models.money import InvoiceLine
from citoyen.models.money import LedgerEntry
from citoyen.models.money import Payment
from citoyen.models.money import PriceBracket
from citoyen.models.notifications import Notification
from citoyen.models.organisations import Organisation
from citoyen.models.outbox import OutboxMessage
from citoyen.models.requests import Request
from citoyen.models.requests import RequestMessage

__all__ = [
    "Request",
    "RequestMessage",
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
    "AuthorizedPickup",
    "Child",
    "ChildPhoto",
    "ActivityRequirement",
    "Document",
    "DocumentFile",
    "DocumentType",
    "Guardian",
    "Household",
    "HouseholdLink",
    "SubscriptionFailure",
    "ExternalIdentity",
    "BilledMonth",
    "BillingRun",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "LedgerEntry",
    "Notification",
    "Payment",
    "PriceBracket",
    "Organisation",
    "OutboxMessage",
]
