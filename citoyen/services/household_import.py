"""Import of households from a CSV export of the town's former family software.

``check`` is the dry run: it reads the file and says which households,
guardians and children would be created, and which lines are refused and why.
``run`` does the same reading inside one write transaction and creates
everything it accepted, or nothing. The format is described in
docs/import-familles.md.

A refused line refuses its whole household (the other lines of that household
are listed with the reason), so that no household is ever created without some
of its children or guardians. Households already in the organisation (same
identifiant famille, or same name and guardian when the file gives none) are
refused, so importing the same file twice creates nothing the second time.

The import creates exactly the households the dry run listed: the dry run's
``Report.fingerprint()`` is given back to ``run``, which creates nothing when
the households it would create now differ in any way (another agent created or
renamed a household in between). A household whose postcode is not one of the
commune's is not refused (a family may live in a neighbouring town), but the
dry run lists it to be checked, since it often means the wrong commune was
chosen."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import Child
from citoyen.models import Guardian
from citoyen.models import Household
from citoyen.models import Organisation
from citoyen.models.households import CHILD_VALIDATED
from citoyen.services import audit
from citoyen.services import households
from citoyen.services.accounts import normalise_email
from citoyen.services.errors import DomainError
from citoyen.services.errors import Forbidden
from citoyen.services.households import CHILD_MAX_AGE
from citoyen.services.households import check_birth_date
from citoyen.services.households import check_phone
from citoyen.services.households import fold
from citoyen.services.households import new_subscription_code
from citoyen.timefmt import commune_today
from citoyen.transactions import begin_write

MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 5000  # data lines, the header not counted

# Column name → (label in messages, length limit).
COLUMNS = {
    "identifiant_famille": ("l'identifiant famille", 20),
    "nom_foyer": ("le nom du foyer", 150),
    "adresse": ("l'adresse", 200),
    "complement_adresse": ("le complément d'adresse", 200),
    "code_postal": ("le code postal", 10),
    "commune": ("la commune", 100),
    "responsable_nom": ("le nom du responsable", 100),
    "responsable_prenom": ("le prénom du responsable", 100),
    "responsable_email": ("l'adresse e-mail du responsable", 254),
    "responsable_telephone": ("le téléphone du responsable", 30),
    "enfant_nom": ("le nom de l'enfant", 100),
    "enfant_prenom": ("le prénom de l'enfant", 100),
    "enfant_naissance": ("la date de naissance de l'enfant", 10),
    "enfant_ecole": ("l'école de l'enfant", 150),
    "enfant_classe": ("la classe de l'enfant", 50),
}
REQUIRED = ("nom_foyer", "responsable_nom", "responsable_prenom")
HOUSEHOLD_FIELDS = ("nom_foyer", "adresse", "complement_adresse", "code_postal", "commune")
CHILD_FIELDS = ("enfant_nom", "enfant_prenom", "enfant_naissance", "enfant_ecole", "enfant_classe")
FAMILY_NUMBER = re.compile(r"[A-Za-z0-9-]{1,20}")

# What other files look like, to say what the agent sent instead of a CSV.
SIGNATURES = (
    (b"PK\x03\x04", "un classeur (.xlsx ou .ods)"),
    (b"\xd0\xcf\x11\xe0", "un classeur Excel (.xls)"),
    (b"%PDF", "un document PDF"),
)
SAVE_AS_CSV = (
    "Dans le tableur, choisissez « Enregistrer sous », format CSV, "
    "séparateur point-virgule, encodage UTF-8."
)


class FileRefused(DomainError):
    """The whole file is refused; the message says why."""


@dataclass
class PlannedGuardian:
    first_name: str
    last_name: str
    email: str
    phone: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class PlannedChild:
    first_name: str
    last_name: str
    birth_date: date
    school: str
    class_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class PlannedHousehold:
    """A household the file describes, before it is created."""

    family_number: str  # empty: a new number is given at the import
    name: str
    address_line1: str
    address_line2: str
    postcode: str
    city: str
    lines: list[int] = field(default_factory=list)
    guardians: list[PlannedGuardian] = field(default_factory=list)
    children: list[PlannedChild] = field(default_factory=list)
    refused: bool = False
    # The postcode is not one of the commune's: imported all the same, shown to be checked.
    postcode_elsewhere: bool = False

    @property
    def address(self) -> str:
        """« 3 rue des Lilas, Bât. B, 45990 Belval », without the parts the file leaves empty."""
        town = f"{self.postcode} {self.city}".strip()
        return ", ".join(part for part in (self.address_line1, self.address_line2, town) if part)


@dataclass
class RefusedLine:
    number: int
    reason: str


@dataclass
class Report:
    """What a file would create (dry run) or created (import)."""

    households: list[PlannedHousehold]
    refused: list[RefusedLine]
    encoding: str
    separator: str
    ignored_columns: list[str]
    line_count: int
    organisation_name: str = ""
    organisation_postcodes: list[str] = field(default_factory=list)
    created: list[Household] = field(default_factory=list)

    @property
    def elsewhere(self) -> list[PlannedHousehold]:
        """The households to create whose postcode is not one of the commune's."""
        return [h for h in self.households if h.postcode_elsewhere]

    @property
    def none_in_commune(self) -> bool:
        """No household of the file with a postcode has one of the commune's: wrong commune?"""
        with_postcode = [h for h in self.households if h.postcode]
        return bool(with_postcode) and all(h.postcode_elsewhere for h in with_postcode)

    def fingerprint(self) -> str:
        """A digest of everything the dry run lists about the households to create,
        to tell at the import whether they are still exactly those."""
        listed = [
            [
                h.family_number,
                h.name,
                h.address_line1,
                h.address_line2,
                h.postcode,
                h.city,
                h.lines,
                h.postcode_elsewhere,
                [[g.first_name, g.last_name, g.email, g.phone] for g in h.guardians],
                [
                    [c.first_name, c.last_name, c.birth_date.isoformat(), c.school, c.class_name]
                    for c in h.children
                ],
            ]
            for h in self.households
        ]
        text = json.dumps(listed, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def guardian_count(self) -> int:
        return sum(len(h.guardians) for h in self.households)

    @property
    def child_count(self) -> int:
        return sum(len(h.children) for h in self.households)

    def summary(self) -> str:
        """« 3 foyers, 4 responsables, 5 enfants » in French."""
        return ", ".join(
            _count(n, word)
            for n, word in (
                (len(self.households), "foyer"),
                (self.guardian_count, "responsable"),
                (self.child_count, "enfant"),
            )
        )


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'s' if number > 1 else ''}"


class _Refused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- reading the file


def _decode(data: bytes) -> tuple[str, str]:
    """The text of the file and the name of its encoding."""
    if not data.strip():
        raise FileRefused("Le fichier est vide.", "file")
    for magic, kind in SIGNATURES:
        if data.startswith(magic):
            raise FileRefused(f"Ce fichier est {kind}, pas un fichier CSV. {SAVE_AS_CSV}", "file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            return data.decode("utf-8"), "UTF-8"
        except UnicodeDecodeError:
            try:
                return data.decode("cp1252"), "Windows-1252"
            except UnicodeDecodeError:
                pass
    raise FileRefused(f"Ce fichier n'est pas un fichier CSV lisible. {SAVE_AS_CSV}", "file")


def column_key(header: str) -> str:
    """« Responsable Téléphone » → « responsable_telephone »."""
    return fold(header).replace(" ", "_")


def _read_rows(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], str, str, list[str]]:
    """The data lines (number, values by column), the encoding, separator and ignored columns."""
    if len(data) > MAX_BYTES:
        raise FileRefused("Le fichier dépasse 2 Mo : découpez-le en plusieurs fichiers.", "file")
    text, encoding = _decode(data)
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    separator = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=separator)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise FileRefused("Le fichier est vide.", "file")
        keys = [column_key(cell) for cell in header]
        seen = set()
        for key, cell in zip(keys, header, strict=True):
            if key in COLUMNS and key in seen:
                raise FileRefused(f"La colonne « {cell.strip()} » figure deux fois.", "file")
            seen.add(key)
        missing = [name for name in REQUIRED if name not in keys]
        if missing:
            raise FileRefused(
                ("Il manque la colonne " if len(missing) == 1 else "Il manque les colonnes ")
                + ", ".join(f"« {name} »" for name in missing)
                + " dans la première ligne du fichier. Séparateur reconnu : "
                + ("point-virgule." if separator == ";" else "virgule."),
                "file",
            )
        ignored = [
            cell.strip()
            for key, cell in zip(keys, header, strict=True)
            if key not in COLUMNS and cell.strip()
        ]
        number = 1
        for cells in reader:
            number += 1
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, often at the end of an export
            if len(rows) >= MAX_LINES:
                raise FileRefused(
                    f"Le fichier compte plus de {MAX_LINES:_} lignes : découpez-le en "
                    "plusieurs fichiers.".replace("_", "\u202f"),
                    "file",
                )
            if len(cells) != len(keys):
                # Which household the line belongs to cannot be known for sure:
                # its cells read from the start and read from the end both
                # name one, and both are left out with it.
                rows.append(
                    (
                        number,
                        {
                            "__error__": (
                                f"La ligne compte {len(cells)} colonnes au lieu de {len(keys)} : vérifiez "
                                "les séparateurs et les guillemets."
                            ),
                            "__readings__": [
                                {key: " ".join(cell.split())
                                 for key, cell in zip(ends, parts, strict=False) if key in COLUMNS}
                                for ends, parts in ((keys, cells), (keys[::-1], cells[::-1]))
                            ],
                        },
                    )
                )
                continue
            values = {
                key: " ".join(cell.split())
                for key, cell in zip(keys, cells, strict=True)
                if key in COLUMNS
            }
            rows.append((number, values))
    except csv.Error:
        raise FileRefused(
            f"Le fichier n'a pas pu être lu à la ligne {reader.line_num} : vérifiez les "
            "guillemets et les séparateurs.",
            "file",
        ) from None
    if not rows:
        raise FileRefused("Le fichier ne contient aucune ligne de famille après l'en-tête.", "file")
    return rows, encoding, separator, ignored


# ---------------------------------------------------------------- checking the lines


def _value(values: dict[str, str], name: str) -> str:
    value = values.get(name, "")
    label, limit = COLUMNS[name]
    if name in REQUIRED and not value:
        raise _Refused(f"Indiquez {label} (colonne « {name} »).")
    if len(value) > limit:
        raise _Refused(f"{label[0].upper()}{label[1:]} dépasse {limit} caractères.")
    return value


def _birth_date(text: str, today: date) -> date:
    """The birth date of a line, by the rule of « Ajouter un enfant »."""
    try:
        born = datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise _Refused(
            f"La date de naissance « {text} » n'est pas au format JJ/MM/AAAA, par exemple 14/09/2018."
        ) from None
    try:
        return check_birth_date(born, today)
    except DomainError:
        if born > today:
            raise _Refused(f"La date de naissance {text} est dans le futur.") from None
        raise _Refused(
            f"Vérifiez l'année de naissance : {text} (un enfant inscrit a moins de "
            f"{CHILD_MAX_AGE} ans)."
        ) from None


def _line(
    values: dict[str, str],
    today: date,
) -> tuple[str, dict[str, str], PlannedGuardian, PlannedChild | None]:
    """The identifiant famille, the household values, the guardian and the child of a line."""
    if "__error__" in values:
        raise _Refused(values["__error__"])
    number = _value(values, "identifiant_famille")
    if number and not FAMILY_NUMBER.fullmatch(number):
        raise _Refused(
            f"L'identifiant famille « {number} » ne doit contenir que des lettres, des chiffres "
            "et des tirets."
        )
    household = {name: _value(values, name) for name in HOUSEHOLD_FIELDS}
    if household["code_postal"] and not re.fullmatch(r"[0-9]{5}", household["code_postal"]):
        raise _Refused(f"Le code postal « {household['code_postal']} » doit compter 5 chiffres.")
    email = _value(values, "responsable_email")
    if email:
        try:
            email = normalise_email(email)
        except DomainError:
            raise _Refused(
                f"L'adresse e-mail « {email} » n'est pas valide. Exemple : prenom.nom@exemple.fr"
            ) from None
    phone = _value(values, "responsable_telephone")
    try:
        phone = check_phone(phone, "responsable_telephone")
    except DomainError:
        raise _Refused(
            f"Le téléphone « {phone} » n'est pas un numéro français à 10 chiffres, par exemple "
            "06 12 34 56 78."
        ) from None
    guardian = PlannedGuardian(
        first_name=_value(values, "responsable_prenom"),
        last_name=_value(values, "responsable_nom"),
        email=email,
        phone=phone,
    )
    child_values = {name: _value(values, name) for name in CHILD_FIELDS}
    child = None
    if any(child_values.values()):
        for name in ("enfant_nom", "enfant_prenom", "enfant_naissance"):
            if not child_values[name]:
                raise _Refused(
                    f"Indiquez {COLUMNS[name][0]} (colonne « {name} »), ou laissez vides toutes "
                    "les colonnes de l'enfant."
                )
        child = PlannedChild(
            first_name=child_values["enfant_prenom"],
            last_name=child_values["enfant_nom"],
            birth_date=_birth_date(child_values["enfant_naissance"], today),
            school=child_values["enfant_ecole"],
            class_name=child_values["enfant_classe"],
        )
    return number, household, guardian, child


def _same_person(a: PlannedGuardian | PlannedChild, b: PlannedGuardian | PlannedChild) -> bool:
    return fold(a.first_name) == fold(b.first_name) and fold(a.last_name) == fold(b.last_name)


def _merge(
    planned: PlannedHousehold,
    household: dict[str, str],
    guardian: PlannedGuardian,
    child: PlannedChild | None,
) -> None:
    """Add a later line's guardian and child to its household, if it agrees with it."""
    first = planned.lines[0]
    mine = {
        "nom_foyer": planned.name,
        "adresse": planned.address_line1,
        "complement_adresse": planned.address_line2,
        "code_postal": planned.postcode,
        "commune": planned.city,
    }
    for name in HOUSEHOLD_FIELDS:
        # A later line may leave the household's columns empty; if it fills them, they agree.
        if household[name] and fold(household[name]) != fold(mine[name]):
            raise _Refused(
                f"{COLUMNS[name][0][0].upper()}{COLUMNS[name][0][1:]} (« {household[name]} ») "
                f"diffère de celle de la ligne {first} du même foyer (« {mine[name]} »)."
            )
    known = next((g for g in planned.guardians if _same_person(g, guardian)), None)
    if known is None:
        planned.guardians.append(guardian)
    else:
        for attribute, label in (("email", "L'adresse e-mail"), ("phone", "Le téléphone")):
            new, old = getattr(guardian, attribute), getattr(known, attribute)
            if new and old and re.sub(r"\W", "", new) != re.sub(r"\W", "", old):
                raise _Refused(
                    f"{label} de {guardian.full_name} diffère de celui donné plus haut pour le "
                    "même foyer."
                    if attribute == "phone"
                    else f"{label} de {guardian.full_name} diffère de celle donnée plus haut pour "
                    "le même foyer."
                )
            if new and not old:
                setattr(known, attribute, new)
    if child is not None:
        if any(
            _same_person(c, child) and c.birth_date == child.birth_date for c in planned.children
        ):
            raise _Refused(f"L'enfant {child.full_name} figure déjà sur une ligne plus haut.")
        planned.children.append(child)


def _existing(
    session: Session, organisation: Organisation
) -> tuple[dict[str, str], dict[tuple, str]]:
    """The households of the organisation: by family number, and by name and guardian."""
    by_number: dict[str, str] = {}
    by_names: dict[tuple, str] = {}
    rows = session.execute(
        select(Household.family_number, Household.name, Guardian.last_name, Guardian.first_name)
        .outerjoin(Guardian, Guardian.household_id == Household.id)
        .where(Household.organisation_id == organisation.id)
    )
    for number, name, last_name, first_name in rows:
        by_number[number.upper()] = name
        if last_name is not None:
            by_names[(fold(name), fold(last_name), fold(first_name))] = number
    return by_number, by_names


def _plan(session: Session, organisation: Organisation, data: bytes) -> Report:
    rows, encoding, separator, ignored = _read_rows(data)
    by_number, by_names = _existing(session, organisation)
    today = commune_today()
    planned: dict[tuple, PlannedHousehold] = {}
    refused: dict[int, str] = {}
    lines_of: dict[tuple, list[int]] = {}
    for number, values in rows:
        try:
            family_number, household, guardian, child = _line(values, today)
        except _Refused as refusal:
            refused[number] = refusal.reason
            # Still tie the line to its household if it can be told, to refuse it too.
            for reading in values.get("__readings__", [values]):
                key = _key(
                    reading.get("identifiant_famille", ""),
                    reading.get("nom_foyer", ""),
                    reading.get("responsable_nom", ""),
                    reading.get("responsable_prenom", ""),
                )
                if key is not None and number not in lines_of.get(key, []):
                    lines_of.setdefault(key, []).append(number)
            continue
        key = _key(family_number, household["nom_foyer"], guardian.last_name, guardian.first_name)
        lines_of.setdefault(key, []).append(number)
        try:
            if family_number and family_number.upper() in by_number:
                raise _Refused(
                    f"L'identifiant famille {family_number} est déjà utilisé dans la commune "
                    f"(foyer {by_number[family_number.upper()]}) : ce foyer a peut-être déjà été "
                    "importé."
                )
            same = by_names.get(
                (fold(household["nom_foyer"]), fold(guardian.last_name), fold(guardian.first_name))
            )
            if not family_number and same is not None:
                raise _Refused(
                    f"Le foyer {household['nom_foyer']} avec le responsable {guardian.full_name} "
                    f"existe déjà (identifiant famille {same}) : il a peut-être déjà été importé."
                )
            if key in planned:
                _merge(planned[key], household, guardian, child)
                planned[key].lines.append(number)
            else:
                planned[key] = PlannedHousehold(
                    family_number=family_number,
                    name=household["nom_foyer"],
                    address_line1=household["adresse"],
                    address_line2=household["complement_adresse"],
                    postcode=household["code_postal"],
                    city=household["commune"],
                    lines=[number],
                    guardians=[guardian],
                    children=[child] if child else [],
                )
        except _Refused as refusal:
            refused[number] = refusal.reason
    # A refused line refuses its household: no household is created in part.
    for key, numbers in lines_of.items():
        bad = [n for n in numbers if n in refused]
        if not bad:
            continue
        if key in planned:
            planned[key].refused = True
        for n in numbers:
            if n not in refused:
                refused[n] = (
                    f"Ce foyer n'est pas importé car sa ligne {bad[0]} est refusée : corrigez-la."
                )
    postcodes = organisation.postcodes.split()
    for planned_household in planned.values():
        planned_household.postcode_elsewhere = bool(
            postcodes and planned_household.postcode
            and planned_household.postcode not in postcodes
        )
    return Report(
        households=[h for h in planned.values() if not h.refused],
        refused=[RefusedLine(n, refused[n]) for n in sorted(refused)],
        encoding=encoding,
        separator=separator,
        ignored_columns=ignored,
        line_count=len(rows),
        organisation_name=organisation.name,
        organisation_postcodes=postcodes,
    )


def _key(family_number: str, name: str, last_name: str, first_name: str) -> tuple | None:
    if family_number:
        return ("number", family_number.upper())
    if name and last_name and first_name:
        return ("names", fold(name), fold(last_name), fold(first_name))
    return None


def _require_agent(actor: Account) -> None:
    if not actor.is_agent:
        raise Forbidden("Cette action est réservée aux agents.")


# ---------------------------------------------------------------- the two steps


def check(session: Session, actor: Account, organisation: Organisation, data: bytes) -> Report:
    """Vérifier le fichier: what the import would create and the lines it refuses.

    Writes nothing. Raises FileRefused when the whole file is refused."""
    _require_agent(actor)
    return _plan(session, organisation, data)


def run(
    session: Session,
    actor: Account,
    organisation: Organisation,
    data: bytes,
    *,
    filename: str = "",
    expected_households: int | None = None,
    expected_fingerprint: str | None = None,
) -> Report:
    """Importer: create the accepted households, guardians and children in one
    transaction, with one audit row; refused lines are left out.

    ``expected_fingerprint`` (``Report.fingerprint()`` of the dry run) and
    ``expected_households`` are what the agent saw at the dry run: if the
    households to create differ now (another import, a household created or
    renamed in the commune), nothing is created and the agent checks the file
    again."""
    _require_agent(actor)
    begin_write(session)
    try:
        # One import at a time per organisation (PostgreSQL; SQLite's write lock does it).
        session.execute(
            select(Organisation.id).where(Organisation.id == organisation.id).with_for_update()
        )
        report = _plan(session, organisation, data)
        if not report.households:
            raise FileRefused(
                "Aucun foyer n'est à créer : toutes les lignes du fichier sont refusées (foyers "
                "déjà enregistrés ou lignes à corriger). Vérifiez à nouveau le fichier pour voir "
                "le détail.",
                "file",
            )
        if (
            expected_households is not None and expected_households != len(report.households)
        ) or (expected_fingerprint is not None and expected_fingerprint != report.fingerprint()):
            raise FileRefused(
                "Les foyers à créer ont changé depuis la vérification (un foyer de la commune a "
                "été créé ou modifié entre-temps) : rien n'a été importé. Vérifiez à nouveau le "
                "fichier avant de l'importer.",
                "file",
            )
        _create(session, organisation, report)
        details = f"{report.summary()} importés"
        if filename:
            details += f" depuis « {filename[:100]} »"
        if report.refused:
            details += f" ; {_count(len(report.refused), 'ligne')} refusée{'s' if len(report.refused) > 1 else ''}"
        audit.record(
            session,
            actor,
            "household.import",
            "organisation",
            organisation.id,
            organisation.name,
            details + ".",
        )
        session.commit()
    except IntegrityError:
        # Another agent created a household with the same number at the same moment.
        session.rollback()
        raise FileRefused(
            "L'import n'a pas pu être enregistré et rien n'a été créé : vérifiez à nouveau le "
            "fichier, puis importez-le.",
            "file",
        ) from None
    except BaseException:
        session.rollback()
        raise
    return report


def _create(session: Session, organisation: Organisation, report: Report) -> None:
    numbers = session.scalars(
        select(Household.family_number).where(Household.organisation_id == organisation.id)
    )
    free = households.free_family_numbers([*numbers, *(h.family_number for h in report.households)])
    codes = _subscription_codes(session, len(report.households))
    for planned, code in zip(report.households, codes, strict=True):
        number = planned.family_number
        if not number:
            number = next(free)
        household = Household(
            organisation_id=organisation.id,
            family_number=number,
            subscription_code=code,
            name=planned.name,
            address_line1=planned.address_line1,
            address_line2=planned.address_line2,
            postcode=planned.postcode,
            city=planned.city,
        )
        household.guardians = [
            Guardian(
                first_name=g.first_name, last_name=g.last_name, email=g.email, mobile_phone=g.phone
            )
            for g in planned.guardians
        ]
        household.children = [
            Child(
                first_name=c.first_name,
                last_name=c.last_name,
                birth_date=c.birth_date,
                school=c.school,
                class_name=c.class_name,
                status=CHILD_VALIDATED,
            )
            for c in planned.children
        ]
        session.add(household)
        report.created.append(household)
    session.flush()


def _subscription_codes(session: Session, count: int) -> list[str]:
    """``count`` new codes abonné, unused so far (they are unique across communes)."""
    codes: set[str] = set()
    while len(codes) < count:
        batch = {new_subscription_code() for _ in range(count - len(codes))} - codes
        taken = set()
        for start in range(0, len(batch), 500):
            chunk = list(batch)[start : start + 500]
            taken |= set(
                session.scalars(
                    select(Household.subscription_code).where(
                        Household.subscription_code.in_(chunk)
                    )
                )
            )
        codes |= batch - taken
    return list(codes)
