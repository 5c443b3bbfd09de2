"""« Attestation fiscale »: the childcare costs of a child under 6 paid in a year."""

from __future__ import annotations

import io
from datetime import date
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph
from reportlab.platypus import SimpleDocTemplate
from reportlab.platypus import Spacer
from reportlab.platypus import Table
from reportlab.platypus import TableStyle

from citoyen.pdf import fonts
from citoyen.pdf.statement import euros


def _siret(siret: str) -> str:
    """« 214 509 999 00017 », as it is printed on official papers."""
    if len(siret) == 14 and siret.isdigit():
        return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"
    return siret


def build(*, town: str, siret: str, address: str, family: str, guardians: str, child: str,
          born: date, year: int, amount: int, issued: date) -> bytes:
    styles = fonts.stylesheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Attestation fiscale {year} — {child}", author=town,
                            subject="Frais de garde des enfants de moins de 6 ans", creator="Citoyen",
                            lang="fr-FR", leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm)
    story = [
        Paragraph(escape(town), styles["Heading2"]),
        Paragraph((f"SIRET {escape(_siret(siret))}<br/>" if siret else "") + escape(address).replace("\n", "<br/>"),
                  styles["Normal"]),
        Spacer(0, 10 * mm),
        Paragraph(f"Attestation fiscale {year}", styles["Title"]),
        Paragraph("Frais de garde des enfants de moins de 6 ans", styles["Heading3"]),
        Spacer(0, 6 * mm),
        Paragraph(
            f"La commune atteste que le foyer {escape(family)}"
            + (f" ({escape(guardians)})" if guardians else "") + " a payé, pour la "
            f"garde de l'enfant {escape(child)}, né(e) le {born:%d/%m/%Y}, pendant l'année {year} et "
            "pour les journées où l'enfant avait moins de 6 ans, la somme de :", styles["Normal"]),
        Spacer(0, 5 * mm),
    ]
    # Aligned with the text above and below it, not centred on the page.
    table = Table([["Frais de garde payés en " + str(year), euros(amount)]], colWidths=[110 * mm, 40 * mm],
                  hAlign="LEFT")
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), fonts.bold()), ("FONTSIZE", (0, 0), (-1, -1), 12),
                               ("ALIGN", (1, 0), (1, 0), "RIGHT"), ("BOX", (0, 0), (-1, -1), 0.8, "#1b4f8a"),
                               ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    story += [
        table, Spacer(0, 6 * mm),
        Paragraph("Ces frais ouvrent droit au crédit d'impôt pour frais de garde des jeunes enfants "
                  "(à reporter sur la déclaration des revenus). Les repas ne sont comptés que s'ils sont "
                  "facturés avec la garde, selon les règles de la commune.", styles["Normal"]),
        Spacer(0, 10 * mm),
        Paragraph(f"Fait le {issued:%d/%m/%Y}, pour servir et valoir ce que de droit.", styles["Normal"]),
    ]
    doc.build(story)
    return buffer.getvalue()
