"""Dates and times as French readers expect them, in the commune's time zone."""

from datetime import UTC
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def commune_today() -> date:
    """Today in the commune (Paris), whatever the server's time zone."""
    return datetime.now(PARIS).date()


def local(dt: datetime) -> datetime:
    """A naive UTC datetime from the database, in Paris time."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(PARIS)


def format_datetime(dt: datetime | None) -> str:
    """« 22 novembre 2026 à 14 h 05 »."""
    if dt is None:
        return ""
    d = local(dt)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year} à {d.hour} h {d.minute:02d}"


def format_time(dt: datetime) -> str:
    d = local(dt)
    return f"{d.hour} h {d.minute:02d}"


def format_iso_date(value: str | None) -> str:
    """« 1988-04-12 » (as identity providers send it) → « 12/04/1988 »."""
    parts = (value or "").split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[2]}/{parts[1]}/{parts[0]}"
    return value or ""


def format_date(dt: datetime | None) -> str:
    if dt is None:
        return ""
    d = local(dt) if isinstance(dt, datetime) else dt
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
