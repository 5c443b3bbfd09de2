"""Households: creation by the town hall, and « M'abonner » for families."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import AuditEntry
from citoyen.models import Child
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.models import HouseholdLink
from citoyen.models import Organisation
from citoyen.models import SubscriptionFailure
from citoyen.models.base import utcnow
from citoyen.services import audit
from citoyen.services import notifications
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.errors import NotFound
from citoyen.timefmt import commune_today
from citoyen.timefmt import format_time
from citoyen.transactions import begin_write

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from paper
MAX_FAILURES = 5
LOCK_MINUTES = 15


class SubscriptionLocked(DomainError):
    def __init__(self, until: datetime):
        self.until = until
        super().__init__(
            "Trop d'essais infructueux : par sécurité, « M'abonner » est bloqué pour votre "
            f"compte jusqu'à {format_time(until)}. Vérifiez les informations sur le "
            "courrier de la mairie, ou contactez-la.",
        )


class WrongSubscription(DomainError):
    pass


# ---------------------------------------------------------------- helpers

def new_subscription_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(value: str) -> str:
    raw = re.sub(r"[\s-]", "", (value or "").upper())
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}" if len(raw) == 12 else raw


def fold(value: str) -> str:
    """Names compared without accents, case or extra spaces."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[-'’]", " ", text).casefold().split())


AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{0,2})?", re.ASCII)


def parse_amount(value: str) -> int:
    """« 42,50 » or « 42.50 € » → 4250 cents."""
    text = (value or "").replace("€", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    # Only plain digits: Decimal would also take « NaN », « Infinity », « 1e5 » or « 1_000 ».
    if not AMOUNT.fullmatch(text):
        raise WrongSubscription(
            "Indiquez le montant de la facture, par exemple 42,50.", "invoice_amount"
        )
    amount = Decimal(text)
    if amount <= 0 or amount > Decimal("1000000"):
        raise WrongSubscription(
            "Indiquez le montant de la facture, par exemple 42,50.", "invoice_amount"
        )
    return int(amount * 100)


def format_cents(cents: int | None) -> str:
    if cents is None:
        return ""
    euros, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    return sign + f"{euros:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


# ---------------------------------------------------------------- reading

def households_of(session: Session, account: Account) -> list[Household]:
    """The households an account is subscribed to."""
    return list(
        session.scalars(
            select(Household)
            .join(HouseholdLink, HouseholdLink.household_id == Household.id)
            .where(HouseholdLink.account_id == account.id)
            .order_by(Household.name, Household.id)
        )
    )


def household_for(session: Session, actor: Account, household_id: int) -> Household:
    """A household the actor may see: an agent, or a subscribed account."""
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound("Ce foyer n'existe pas.")
    if actor.is_agent:
        return household
    linked = session.scalar(
        select(HouseholdLink.id).where(
            HouseholdLink.account_id == actor.id, HouseholdLink.household_id == household_id
        )
    )
    if linked is None:
        # Not "forbidden": another family's household does not exist for this account.
        raise NotFound("Ce foyer n'existe pas.")
    return household


def linked_accounts(session: Session, household: Household) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .join(HouseholdLink, HouseholdLink.account_id == Account.id)
            .where(HouseholdLink.household_id == household.id)
            .order_by(Account.last_name, Account.first_name)
        )
    )


# ---------------------------------------------------------------- subscribing

@dataclass(frozen=True)
class Attempt:
    method: str  # "code", "invoice" or "family_number"
    code: str = ""
    invoice_reference: str = ""
    invoice_amount: str = ""
    family_number: str = ""
    last_name: str = ""
    first_name: str = ""
    # The commune the family chose, when the deployment serves several.
    organisation_id: int | None = None


def _lock_state(session: Session, account: Account, now: datetime) -> tuple[int, datetime | None]:
    since = now - timedelta(minutes=LOCK_MINUTES)
    times = list(
        session.scalars(
            select(SubscriptionFailure.created_at)
            .where(SubscriptionFailure.account_id == account.id, SubscriptionFailure.created_at > since)
            .order_by(SubscriptionFailure.created_at)
        )
    )
    if len(times) >= MAX_FAILURES:
        return len(times), times[-MAX_FAILURES] + timedelta(minutes=LOCK_MINUTES)
    return len(times), None


def _find(session: Session, attempt: Attempt) -> tuple[Household | None, str]:
    """The household the attempt designates, and the field to blame if none. A
    household of another commune than the one chosen is not found."""
    household, field = _find_anywhere(session, attempt)
    if household is not None and attempt.organisation_id not in (None, household.organisation_id):
        return None, field
    return household, field


def _find_anywhere(session: Session, attempt: Attempt) -> tuple[Household | None, str]:
    if attempt.method == "code":
        code = normalise_code(attempt.code)
        if not code:
            raise WrongSubscription("Indiquez le code abonné.", "code")
        return session.scalar(select(Household).where(Household.subscription_code == code)), "code"
    if attempt.method == "invoice":
        reference = (attempt.invoice_reference or "").strip().upper()
        if not reference:
            raise WrongSubscription("Indiquez la référence de la facture.", "invoice_reference")
        cents = parse_amount(attempt.invoice_amount)
        query = select(Household).where(
            func.upper(Household.invoice_reference) == reference,
            Household.invoice_amount_cents == cents,
        )
        if attempt.organisation_id is not None:
            query = query.where(Household.organisation_id == attempt.organisation_id)
        return session.scalars(query.limit(1)).first(), "invoice_reference"
    if attempt.method == "family_number":
        number = (attempt.family_number or "").strip()
        if not number:
            raise WrongSubscription("Indiquez l'identifiant famille.", "family_number")
        if not attempt.last_name.strip() or not attempt.first_name.strip():
            raise WrongSubscription(
                "Indiquez le nom de famille et le prénom d'un responsable du foyer.", "last_name"
            )
        query = select(Household).where(Household.family_number == number)
        if attempt.organisation_id is not None:
            query = query.where(Household.organisation_id == attempt.organisation_id)
        for household in session.scalars(query):
            for guardian in household.guardians:
                if fold(guardian.last_name) == fold(attempt.last_name) and fold(
                    guardian.first_name
                ) == fold(attempt.first_name):
                    return household, "family_number"
        return None, "family_number"
    raise WrongSubscription("Choisissez une façon de vous abonner.")


def subscribe(
    session: Session, account: Account, attempt: Attempt, base_url: str
) -> Household:
    """M'abonner: link the account to the household the attempt proves it knows.

    Wrong attempts are counted per account; after five within fifteen minutes,
    subscribing is locked for the account until the oldest of them is fifteen
    minutes old. The link takes effect at once."""
    begin_write(session)
    # The account's row lock, held until this attempt is recorded: simultaneous
    # attempts are counted one after the other, so no more than MAX_FAILURES are
    # ever checked (SQLite's write lock does the same already).
    session.execute(select(Account.id).where(Account.id == account.id).with_for_update())
    now = utcnow()
    _, locked_until = _lock_state(session, account, now)
    if locked_until is not None:
        raise SubscriptionLocked(locked_until)
    household, field = _find(session, attempt)
    if household is None:
        session.add(SubscriptionFailure(account_id=account.id, created_at=now))
        # Counted inside the lock: this attempt's rank, whatever the others
        # record once it is let go.
        count, locked_until = _lock_state(session, account, now)
        session.commit()
        if locked_until is not None:
            raise SubscriptionLocked(locked_until)
        remaining = MAX_FAILURES - count
        raise WrongSubscription(
            "Ces informations ne correspondent à aucun foyer. Vérifiez-les sur le courrier "
            f"ou la facture de la mairie. Il vous reste {remaining} essai"
            f"{'s' if remaining > 1 else ''} avant un blocage de {LOCK_MINUTES} minutes.",
            field,
        )
    already = session.scalar(
        select(HouseholdLink.id).where(
            HouseholdLink.account_id == account.id, HouseholdLink.household_id == household.id
        )
    )
    if already is not None:
        raise WrongSubscription("Votre compte est déjà abonné à ce foyer.", field)
    session.add(HouseholdLink(account_id=account.id, household_id=household.id, method=attempt.method))
    # The guardian this account is, if the town hall recorded them.
    for guardian in household.guardians:
        if guardian.account_id is None and (
            (guardian.email and guardian.email.lower() == account.email)
            or (fold(guardian.last_name) == fold(account.last_name)
                and fold(guardian.first_name) == fold(account.first_name))
        ):
            guardian.account_id = account.id
            break
    session.execute(delete(SubscriptionFailure).where(SubscriptionFailure.account_id == account.id))
    notifications.notify(
        session, account, f"Votre compte est rattaché au foyer {household.name}",
        "Vous pouvez maintenant consulter et mettre à jour votre dossier famille.",
        base_url, link="/foyer",
    )
    try:
        session.commit()
    except IntegrityError:  # the same subscription from two tabs at once
        session.rollback()
        raise WrongSubscription("Votre compte est déjà abonné à ce foyer.", field) from None
    return household


def attempts_left(session: Session, account: Account) -> int:
    count, locked = _lock_state(session, account, utcnow())
    return 0 if locked else MAX_FAILURES - count


# ---------------------------------------------------------------- town hall

def _require_agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


def _text(value: str, field: str, label: str, limit: int, required: bool = True) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise DomainError(f"Indiquez {label}.", field)
    if len(value) > limit:
        raise DomainError(f"Ce champ ne doit pas dépasser {limit} caractères.", field)
    return value


PHONE = re.compile(r"^(?:\+33\s?|0)[1-9](?:[\s.-]?[0-9]{2}){4}$")


CHILD_MAX_AGE = 25


def check_birth_date(day: date, today: date | None = None) -> date:
    """A child's birth date: not in the future, less than CHILD_MAX_AGE years ago.
    The one rule for adding a child and for changing its general information."""
    today = today or commune_today()
    if day > today:
        raise DomainError("La date de naissance ne peut pas être dans le futur.", "birth_date")
    try:
        earliest = today.replace(year=today.year - CHILD_MAX_AGE)
    except ValueError:  # 29 February
        earliest = today.replace(year=today.year - CHILD_MAX_AGE, day=28)
    if day < earliest:
        raise DomainError(
            f"Vérifiez l'année de naissance : un enfant inscrit a moins de {CHILD_MAX_AGE} ans.",
            "birth_date",
        )
    return day


def check_phone(value: str, field: str) -> str:
    value = (value or "").strip()
    if value and not PHONE.match(value):
        raise DomainError(
            "Indiquez un numéro de téléphone français à 10 chiffres, par exemple 06 12 34 56 78.",
            field,
        )
    return value


_SEQUENCE = re.compile(r"[0-9]{1,9}", re.ASCII)


def free_family_numbers(numbers: Iterable[str]) -> Iterator[str]:
    """The numbers to give next, after the highest of the portal's own
    numbering (up to nine digits: a longer one typed by an agent, or one with
    letters, cannot push the sequence out of its column), skipping any taken."""
    taken = set(numbers)
    following = max((int(n) for n in taken if _SEQUENCE.fullmatch(n)), default=0) + 1
    while True:
        number = f"{following:06d}"
        if number not in taken:
            taken.add(number)
            yield number
        following += 1


def _next_family_number(session: Session, organisation_id: int) -> str:
    numbers = session.scalars(
        select(Household.family_number).where(Household.organisation_id == organisation_id)
    )
    return next(free_family_numbers(numbers))


def _same_household(session: Session, organisation_id: int, name: str, guardian: Guardian) -> Household | None:
    """A household of the commune with that name and that guardian, names compared as ``fold`` does."""
    wanted = (fold(guardian.last_name), fold(guardian.first_name))
    # The names are folded here, not in SQL (« Dupré » and « Dupre » are one name): only ids and names are read.
    ids = [household_id for household_id, other in session.execute(
        select(Household.id, Household.name).where(Household.organisation_id == organisation_id))
        if fold(other) == fold(name)]
    for household in session.scalars(select(Household).where(Household.id.in_(ids))) if ids else []:
        if any((fold(g.last_name), fold(g.first_name)) == wanted for g in household.guardians):
            return household
    return None


def create_household(
    session: Session,
    actor: Account,
    organisation: Organisation,
    *,
    name: str,
    address_line1: str = "",
    address_line2: str = "",
    postcode: str = "",
    city: str = "",
    guardian_first_name: str,
    guardian_last_name: str,
    guardian_email: str = "",
    guardian_phone: str = "",
    family_number: str = "",
    invoice_reference: str = "",
    invoice_amount: str = "",
) -> Household:
    """Create a household with its first guardian; it gets a family number and a code."""
    from citoyen.services.accounts import normalise_email

    _require_agent(actor)
    begin_write(session)
    values = {
        "name": _text(name, "name", "le nom du foyer", 150),
        "address_line1": _text(address_line1, "address_line1", "l'adresse", 200, False),
        "address_line2": _text(address_line2, "address_line2", "l'adresse", 200, False),
        "postcode": _text(postcode, "postcode", "le code postal", 10, False),
        "city": _text(city, "city", "la commune", 100, False),
    }
    if values["postcode"] and not re.fullmatch(r"[0-9]{5}", values["postcode"], re.ASCII):
        raise DomainError("Indiquez un code postal à 5 chiffres.", "postcode")
    guardian = Guardian(
        first_name=_text(guardian_first_name, "guardian_first_name", "le prénom du responsable", 100),
        last_name=_text(guardian_last_name, "guardian_last_name", "le nom du responsable", 100),
        email=normalise_email(guardian_email, "guardian_email") if guardian_email.strip() else "",
        mobile_phone=check_phone(guardian_phone, "guardian_phone"),
    )
    number = (family_number or "").strip()
    if number and not re.fullmatch(r"[A-Za-z0-9-]{1,20}", number):
        raise DomainError("L'identifiant famille ne contient que des lettres et des chiffres.", "family_number")
    reference = (invoice_reference or "").strip().upper() or None
    cents = None
    if reference or (invoice_amount or "").strip():
        if not reference:
            raise DomainError("Indiquez aussi la référence de la facture.", "invoice_reference")
        try:
            cents = parse_amount(invoice_amount)
        except WrongSubscription as error:
            raise DomainError(error.message, "invoice_amount") from None
    for _ in range(5):
        # One creation at a time per commune (PostgreSQL; SQLite's write lock does it), as the
        # import does, so that the same form sent twice at once finds the first household.
        session.execute(select(Organisation.id).where(Organisation.id == organisation.id).with_for_update())
        same = _same_household(session, organisation.id, values["name"], guardian)
        if number and session.scalar(select(Household.name).where(
                Household.organisation_id == organisation.id,
                func.upper(Household.family_number) == number.upper())) is not None:
            # « f100 » is « F100 », as for the import.
            raise DomainError("Cet identifiant famille est déjà utilisé.", "family_number")
        if same is not None:
            # As the import does: the same name with the same guardian is the same family (a form sent twice).
            raise DomainError(f"Le foyer {same.name} avec le responsable {guardian.full_name} existe déjà "
                              f"(identifiant famille {same.family_number}).", "name")
        household = Household(
            organisation_id=organisation.id,
            family_number=number or _next_family_number(session, organisation.id),
            subscription_code=new_subscription_code(),
            invoice_reference=reference,
            invoice_amount_cents=cents,
            **values,
        )
        household.guardians.append(guardian)
        session.add(household)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            if number:
                raise DomainError("Cet identifiant famille est déjà utilisé.", "family_number") from None
            begin_write(session)
            guardian = Guardian(**{k: getattr(guardian, k) for k in (
                "first_name", "last_name", "email", "mobile_phone")})
            continue
        audit.record(
            session, actor, "household.create", "household", household.id, household.name,
            f"Identifiant famille {household.family_number}",
        )
        session.commit()
        return household
    raise DomainError("Le foyer n'a pas pu être créé, réessayez.")


def add_child(
    session: Session, actor: Account, household: Household, *, first_name: str, last_name: str,
    birth_date: date | None, school: str = "", class_name: str = "",
) -> Child:
    """Ajouter un enfant: from a family, the record waits for the town hall."""
    begin_write(session)
    first = _text(first_name, "first_name", "le prénom de l'enfant", 100)
    last = _text(last_name, "last_name", "le nom de l'enfant", 100)
    if birth_date is None:
        raise DomainError("Indiquez la date de naissance, par exemple 14/09/2018.", "birth_date")
    check_birth_date(birth_date)
    # The household's row is locked (PostgreSQL), so that the same form sent
    # twice at once finds the first child.
    session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    for other in session.scalars(select(Child).where(Child.household_id == household.id,
                                                     Child.birth_date == birth_date)):
        if fold(other.first_name) == fold(first) and fold(other.last_name) == fold(last):
            raise DomainError(f"{other.full_name} est déjà dans ce foyer.", "first_name")
    child = Child(
        household_id=household.id, first_name=first, last_name=last, birth_date=birth_date,
        school=_text(school, "school", "l'école", 150, False),
        class_name=_text(class_name, "class_name", "la classe", 50, False),
        status="validated" if actor.is_agent else "pending",
    )
    session.add(child)
    session.flush()
    if actor.is_agent:
        audit.record(session, actor, "household.add_child", "household", household.id,
                     household.name, child.full_name)
    session.commit()
    return child


def add_guardian(
    session: Session, actor: Account, household: Household, *, first_name: str, last_name: str,
    email: str = "", mobile_phone: str = "",
) -> Guardian:
    """A second guardian added by the family: the record waits for the town hall."""
    from citoyen.services.accounts import normalise_email

    first = _text(first_name, "first_name", "le prénom", 100)
    last = _text(last_name, "last_name", "le nom", 100)
    email = (email or "").strip()
    email = normalise_email(email, "email") if email else ""
    phone = check_phone(mobile_phone, "mobile_phone")
    begin_write(session)
    for other in household.guardians:
        if fold(other.first_name) == fold(first) and fold(other.last_name) == fold(last):
            raise DomainError(f"{other.full_name} est déjà responsable de ce foyer.", "first_name")
    guardian = Guardian(
        household_id=household.id, first_name=first, last_name=last, email=email,
        mobile_phone=phone, status="validated" if actor.is_agent else "pending",
    )
    session.add(guardian)
    session.flush()
    if actor.is_agent:
        audit.record(session, actor, "household.add_guardian", "household", household.id,
                     household.name, guardian.full_name)
    session.commit()
    return guardian


SEARCH_LIMIT = 50


def search(session: Session, actor: Account, query: str) -> list[Household]:
    """Households whose name or family number contains every word of the query:
    at most ``SEARCH_LIMIT``, and one more to tell there are more."""
    _require_agent(actor)
    statement = select(Household)
    for word in (query or "").split()[:5]:
        pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            func.lower(Household.name).like(pattern, escape="\\")
            | func.lower(Household.family_number).like(pattern, escape="\\")
        )
    return list(session.scalars(statement.order_by(Household.name, Household.id).limit(SEARCH_LIMIT + 1)))




def _link_invited(session: Session, account: Account, guardian: Guardian) -> None:
    if session.scalar(select(HouseholdLink.id).where(
        HouseholdLink.account_id == account.id, HouseholdLink.household_id == guardian.household_id
    )) is None:
        session.add(HouseholdLink(account_id=account.id, household_id=guardian.household_id,
                                  method="invitation"))
    guardian.account_id = account.id


def link_accepted_invitations(session: Session, account: Account) -> None:
    """Once the owner of the mailbox has followed an invitation link, subscribe the
    account to the households whose agent invited a guardian with that address.
    Does not commit."""
    invited = select(AuditEntry.id).where(
        AuditEntry.action == "household.invite", AuditEntry.target_type == "household",
        AuditEntry.target_id == Guardian.household_id,
    ).exists()
    for guardian in session.scalars(select(Guardian).where(
        Guardian.email == account.email, Guardian.account_id.is_(None),
        Guardian.status == "validated", invited,
    )):
        _link_invited(session, account, guardian)


def invite_guardian(
    session: Session, settings: Mapping, actor: Account, household: Household, guardian_id: int,
    base_url: str,
) -> Account:
    """Invite a guardian by e-mail: the account is created already subscribed to the
    household, and the parent chooses a password from the link (valid INVITATION_HOURS).
    A guardian who already has an account with that address is simply subscribed."""
    from citoyen import links
    from citoyen import mail
    from citoyen.models.accounts import TOKEN_INVITATION
    from citoyen.services import accounts

    _require_agent(actor)
    begin_write(session)
    # The household's row is locked (PostgreSQL): the same invitation sent twice
    # at once creates one account.
    session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    household = session.get(Household, household.id, populate_existing=True)
    guardian = next((g for g in household.guardians if g.id == guardian_id), None)
    if guardian is None:
        raise NotFound("Ce responsable n'existe pas.")
    if not guardian.email:
        raise DomainError("Renseignez d'abord l'adresse e-mail de ce responsable.")
    if guardian.status != "validated":
        raise DomainError("Ce responsable attend la validation de la mairie : validez-le avant de l'inviter.")
    account = session.scalar(select(Account).where(Account.email == guardian.email))
    created = account is None
    if created:
        account = Account(
            email=guardian.email, first_name=guardian.first_name, last_name=guardian.last_name,
            password_hash=None, activated_at=utcnow(),
        )
        session.add(account)
        try:
            session.flush()
        except IntegrityError:  # the same address, invited from another household at that moment
            session.rollback()
            raise DomainError(f"Un compte vient d'être créé avec l'adresse {guardian.email} : "
                              "invitez de nouveau ce responsable.") from None
    # An account whose address was never proven may belong to someone else who
    # typed this address: it is linked only once the invitation link is followed
    # (accept_invitation), and meanwhile it is told nothing.
    proven = created or account.email_verified_at is not None
    if proven:
        _link_invited(session, account, guardian)
    if created or account.password_hash is None or not proven:
        token = accounts.issue_token(session, settings, account, TOKEN_INVITATION,
                                     settings["INVITATION_HOURS"])
        mail.queue(
            session, account.email, "Votre espace famille sur le portail", "invitation",
            account=account, link=links.absolute(base_url, links.invitation(token)),
            hours=settings["INVITATION_HOURS"], base_url=base_url.rstrip("/"),
        )
    else:
        notifications.notify(
            session, account, f"Votre compte est rattaché au foyer {household.name}",
            "La mairie a rattaché votre compte à votre dossier famille.", base_url, link="/foyer",
        )
    audit.record(session, actor, "household.invite", "household", household.id, household.name,
                 guardian.full_name)
    session.commit()
    return account


# ---------------------------------------------------------------- ending a subscription

def renew_code(session: Session, actor: Account, household: Household) -> str:
    """Renouveler le code abonné: the old code stops working (a code given to
    the wrong person, or seen by others); accounts already subscribed keep
    their access."""
    _require_agent(actor)
    begin_write(session)
    session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    household = session.get(Household, household.id, populate_existing=True)
    household.subscription_code = new_subscription_code()
    # The code itself is not written in the journal: it is a secret of the family.
    audit.record(session, actor, "household.code_renewed", "household", household.id, household.name)
    session.commit()
    return household.subscription_code


def detach_account(session: Session, actor: Account, household: Household, account_id: int,
                   base_url: str) -> Account:
    """Détacher un compte du foyer (a separation, an account subscribed by
    mistake): the account no longer sees the household, its children or its
    invoices; the guardian's record stays. Its owner is told, and an
    invitation still pending for it can no longer link it again."""
    from citoyen.models.accounts import TOKEN_INVITATION
    from citoyen.models.accounts import AccountToken

    _require_agent(actor)
    begin_write(session)
    session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    link = session.scalar(select(HouseholdLink).where(HouseholdLink.household_id == household.id,
                                                      HouseholdLink.account_id == account_id))
    account = session.get(Account, account_id) if link is not None else None
    if link is None or account is None:
        raise NotFound("Ce compte n'est pas abonné à ce foyer.")
    session.delete(link)
    for guardian in session.scalars(select(Guardian).where(Guardian.household_id == household.id,
                                                           Guardian.account_id == account_id)):
        guardian.account_id = None
    now = utcnow()
    for token in session.scalars(select(AccountToken).where(
            AccountToken.account_id == account_id, AccountToken.purpose == TOKEN_INVITATION,
            AccountToken.used_at.is_(None), AccountToken.expires_at > now)):
        token.used_at = now
    audit.record(session, actor, "household.account_detached", "household", household.id, household.name,
                 f"{account.full_name} <{account.email}>")
    notifications.notify(
        session, account, f"Votre compte n'est plus rattaché au foyer {household.name}",
        "La mairie a détaché votre compte de ce dossier famille : vous n'en voyez plus les enfants, les "
        "réservations ni les factures. Si c'est une erreur, contactez la mairie.", base_url, link="/contact")
    session.commit()
    return account
