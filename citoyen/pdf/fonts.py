"""The fonts of the portal's PDFs.

The standard PDF fonts (Helvetica) have the letters of Western Europe only: a
name the forms accept, « Wiśniewski », « Łucja », « Ștefan », « Yılmaz », would
print with black squares, on an invoice or an attestation fiscale. The PDFs
use DejaVu Sans instead, embedded in each file (only the letters used), from
Debian's package fonts-dejavu-core (``make install`` installs it), or from the
folder ``CITOYEN_PDF_FONTS`` names. Without it, Helvetica, and a warning in
the log."""

from __future__ import annotations

import logging
import os
from functools import cache

from reportlab.lib.fonts import addMapping
from reportlab.lib.styles import StyleSheet1
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

FOLDERS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
FILES = {"Sans": "DejaVuSans.ttf", "Sans-Bold": "DejaVuSans-Bold.ttf", "Sans-Oblique": "DejaVuSans-Oblique.ttf",
         "Sans-BoldOblique": "DejaVuSans-BoldOblique.ttf"}


@cache
def faces() -> tuple[str, str]:
    """The names of the regular and bold faces, registered once per process."""
    folders = [os.environ["CITOYEN_PDF_FONTS"]] if os.environ.get("CITOYEN_PDF_FONTS") else []
    for folder in [*folders, *FOLDERS]:
        paths = {style: os.path.join(folder, name) for style, name in FILES.items()}
        if all(os.path.isfile(path) for path in paths.values()):
            for style, path in paths.items():
                pdfmetrics.registerFont(TTFont(f"Citoyen{style}", path))
            # <b> and <i> in a paragraph take the matching face.
            for bold, italic, style in ((0, 0, "Sans"), (1, 0, "Sans-Bold"), (0, 1, "Sans-Oblique"),
                                        (1, 1, "Sans-BoldOblique")):
                addMapping("CitoyenSans", bold, italic, f"Citoyen{style}")
            return "CitoyenSans", "CitoyenSans-Bold"
    log.warning("DejaVu Sans not found (apt-get install fonts-dejavu-core): the PDFs print names "
                "with letters outside Western Europe as black squares")
    return "Helvetica", "Helvetica-Bold"


def regular() -> str:
    return faces()[0]


def bold() -> str:
    return faces()[1]


@cache
def stylesheet() -> StyleSheet1:
    """reportlab's sample style sheet, in the portal's faces (headings in bold)."""
    sheet = getSampleStyleSheet()
    plain, strong = faces()
    for name in sheet.byName:
        style = sheet[name]
        if hasattr(style, "fontName"):
            style.fontName = strong if "Bold" in style.fontName else plain
    return sheet
