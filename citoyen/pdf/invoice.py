"""An invoice or a credit note (avoir) as a PDF."""

from __future__ import annotations

import io
from datetime import date
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
from citoyen.pdf.statement import euros

# Built once: a style sheet costs more than a page.
styles = fonts.stylesheet()
right = ParagraphStyle("right", parent=styles["Normal"], alignment=TA_RIGHT)
LABEL_ROOM = 96 * mm - 12  # the label column, less its padding
small = ParagraphStyle("small", parent=styles["Normal"], fontSize=8, leading=10)


def build(*, town: str, siret: str, service: str, contact: str, family: str, family_number: str,
          address: str, subscription_code: str, number: str, is_credit_note: bool, label: str,
          issued: date, period: tuple[date, date], lines: list[tuple[str, int, int, int]],
          total: int, left: int, corrects: str = "") -> bytes:
    """``lines``: (label, quantity, unit price, amount) in cents."""
    kind = "Avoir" if is_credit_note else "Facture"
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"{kind} {number} — {family}", author=town,
                            subject=label, creator="Citoyen", lang="fr-FR",
                            leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm)
    head = escape(town) + (f"<br/>SIRET {escape(siret)}" if siret else "")
    story = [
        Paragraph(head, styles["Heading2"]),
        Paragraph(escape(service), styles["Normal"]) if service else Spacer(0, 0),
        Spacer(0, 6 * mm),
        Paragraph(f"Foyer {escape(family)}<br/>Identifiant famille : {escape(family_number)}"
                  f"<br/>Code abonné : {escape(subscription_code)}"
                  + (f"<br/>{escape(address)}" if address else ""), right),
        Spacer(0, 6 * mm),
        Paragraph(escape(f"{kind} n° {number}"), styles["Title"]),
        Paragraph(escape(label), styles["Normal"]),
        Paragraph(f"Émis le {issued:%d/%m/%Y} — période du {period[0]:%d/%m/%Y} au {period[1]:%d/%m/%Y}"
                  + (f" — corrige la facture {escape(corrects)}" if corrects else ""), styles["Normal"]),
        Spacer(0, 5 * mm),
    ]
    rows = [["Désignation", "Quantité", "Prix unitaire", "Montant"]]
    # Short labels stay plain text (fast); one wider than its column wraps in a paragraph.
    rows += [[Paragraph(escape(text), small) if stringWidth(text, fonts.regular(), 9) > LABEL_ROOM else text,
              str(qty), euros(unit), euros(amount)]
             for text, qty, unit, amount in lines]
    rows.append(["Total", "", "", euros(total)])
    if not is_credit_note:
        rows.append(["Reste à payer", "", "", euros(left)])
    table = Table(rows, colWidths=[96 * mm, 22 * mm, 28 * mm, 28 * mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), fonts.regular()),
        ("FONTNAME", (0, 0), (-1, 0), fonts.bold()),
        ("FONTNAME", (0, -2 if not is_credit_note else -1), (-1, -1), fonts.bold()),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#1b4f8a")),
        ("LINEABOVE", (0, -2 if not is_credit_note else -1), (-1, -2 if not is_credit_note else -1),
         0.8, colors.HexColor("#1b4f8a")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [table, Spacer(0, 8 * mm)]
    if not is_credit_note and left:
        story.append(Paragraph("Payez en ligne sur le portail famille (« Mes factures », « Payer cette "
                               "facture »), ou en espèces à la mairie. Les chèques ne sont pas acceptés.",
                               styles["Normal"]))
    if contact:
        story.append(Paragraph(escape(contact), small))
    doc.build(story)
    return buffer.getvalue()
