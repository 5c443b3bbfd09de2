"""« Relevé de compte »: the movements of a compte d'avance over a period,
detailed (each movement, with the running balance) or simplified (one line a month)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph
from reportlab.platypus import SimpleDocTemplate
from reportlab.platypus import Spacer
from reportlab.platypus import Table
from reportlab.platypus import TableStyle

from citoyen.pdf import fonts
from citoyen.timefmt import local

FONT, SIZE = fonts.regular(), 9
LABEL_WIDTH = 78 * mm
PADDING = 6  # a table cell's padding on each side, in points
# Built once: a style sheet costs more than a page.
cell = ParagraphStyle("cell", parent=fonts.stylesheet()["Normal"], fontName=FONT, fontSize=SIZE,
                      leading=SIZE + 2)

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")


def euros(cents: int) -> str:
    """« 1 234,50 € » with characters every standard PDF font has."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", " ") + f",{rest:02d} €"


def label_cell(text: str) -> str | Paragraph:
    """A movement's label in its column: as it is if it fits on one line, else
    wrapped over several lines of the column, whole."""
    if stringWidth(text, FONT, SIZE) <= LABEL_WIDTH - 2 * PADDING:
        return text
    return Paragraph(escape(text), cell)


@dataclass(frozen=True)
class Period:
    """A year, a month of a year, or everything (year None)."""

    year: int | None = None
    month: int | None = None

    def contains(self, when: datetime) -> bool:
        if self.year is None:
            return True
        return when.year == self.year and (self.month is None or when.month == self.month)

    def starts_after(self, when: datetime) -> bool:
        """Whether ``when`` is before the period (its movements make the opening balance)."""
        if self.year is None:
            return False
        start = date(self.year, self.month or 1, 1)
        return when.date() < start

    @property
    def label(self) -> str:
        if self.year is None:
            return "tous les mouvements"
        if self.month is None:
            return f"année {self.year}"
        return f"{MONTHS[self.month - 1]} {self.year}"


@dataclass(frozen=True)
class Movement:
    """``when``: as stored (naive UTC) or aware; read in the commune's time, like the pages."""

    when: datetime
    label: str
    cents: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", local(self.when))


def build(*, town: str, service: str, family: str, family_number: str, address: str,
          movements: Sequence[Movement], period: Period, detailed: bool, today: date) -> bytes:
    """The PDF. ``movements`` are every movement of the account, oldest first."""
    styles = fonts.stylesheet()
    right = ParagraphStyle("right", parent=styles["Normal"], alignment=TA_RIGHT)
    buffer = io.BytesIO()
    title = f"Relevé de compte — {family} — {period.label}"
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, author=town, subject="Relevé de compte",
                            creator="Citoyen", lang="fr-FR", leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=16 * mm, bottomMargin=16 * mm)
    opening = sum(m.cents for m in movements if period.starts_after(m.when))
    inside = [m for m in movements if period.contains(m.when)]
    story = [
        Paragraph(escape(town), styles["Heading2"]),
        Paragraph(escape(service), styles["Normal"]) if service else Spacer(0, 0),
        Spacer(0, 6 * mm),
        Paragraph(f"Foyer {escape(family)}<br/>Identifiant famille : {escape(family_number)}"
                  + (f"<br/>{escape(address)}" if address else ""), right),
        Spacer(0, 6 * mm),
        Paragraph(escape(f"Relevé de compte — {period.label}"), styles["Title"]),
        Paragraph(f"Compte d'avance. Édité le {today.strftime('%d/%m/%Y')}. "
                  + ("Relevé détaillé." if detailed else "Relevé simplifié, par mois."), styles["Normal"]),
        Spacer(0, 5 * mm),
    ]
    rows: list[list[str | Paragraph]]
    balance = opening
    if detailed:
        rows = [["Date", "Opération", "Crédit", "Débit", "Solde"],
                ["", "Solde au début de la période", "", "", euros(opening)]]
        for m in inside:
            balance += m.cents
            rows.append([m.when.strftime("%d/%m/%Y"), label_cell(m.label),
                         euros(m.cents) if m.cents > 0 else "", euros(-m.cents) if m.cents < 0 else "",
                         euros(balance)])
        widths = [24 * mm, LABEL_WIDTH, 24 * mm, 24 * mm, 24 * mm]
    else:
        rows = [["Mois", "Crédits", "Débits", "Solde en fin de mois"],
                ["Solde au début de la période", "", "", euros(opening)]]
        months: dict[tuple[int, int], list[int]] = {}
        for m in inside:
            credit_debit = months.setdefault((m.when.year, m.when.month), [0, 0])
            credit_debit[0 if m.cents > 0 else 1] += abs(m.cents)
        for (year, month), (credit, debit) in months.items():
            balance += credit - debit
            rows.append([f"{MONTHS[month - 1]} {year}", euros(credit), euros(debit), euros(balance)])
        widths = [66 * mm, 36 * mm, 36 * mm, 36 * mm]
    rows.append(["Solde à la fin de la période"] + [""] * (len(rows[0]) - 2) + [euros(balance)])
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTNAME", (0, 0), (-1, 0), fonts.bold()),
        ("FONTNAME", (0, -1), (-1, -1), fonts.bold()),
        ("FONTSIZE", (0, 0), (-1, -1), SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#1b4f8a")),
        ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.HexColor("#1b4f8a")),
        ("ALIGN", (-3 if detailed else 1, 1), (-1, -1), "RIGHT"),
        ("ALIGN", (-3 if detailed else 1, 0), (-1, 0), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#f6f7f9")]),
    ]))
    story.append(table)
    if not inside:
        story += [Spacer(0, 4 * mm), Paragraph("Aucun mouvement sur cette période.", styles["Normal"])]
    doc.build(story)
    return buffer.getvalue()
