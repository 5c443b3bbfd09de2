"""Names outside Western Europe print as they are written in every PDF of
the portal (DejaVu Sans, embedded), not as black squares."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from datetime import datetime

import pytest

from citoyen.pdf import fonts
from citoyen.pdf import invoice
from citoyen.pdf import statement
from citoyen.pdf import tax
from tests.conftest import STRICT

NAMES = ("Wiśniewski", "Łucja", "Ștefan", "Yılmaz")


@pytest.fixture
def poppler():
    missing = [tool for tool in ("pdftotext", "pdffonts") if shutil.which(tool) is None]
    if missing:
        if STRICT:
            pytest.fail(f"{', '.join(missing)} (poppler-utils) is missing", pytrace=False)
        pytest.skip("poppler-utils is missing")
    if fonts.regular() == "Helvetica":
        message = "DejaVu Sans is missing (apt-get install fonts-dejavu-core)"
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _read(pdf: bytes, tmp_path, name: str) -> tuple[str, str]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout
    faces = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    return text, faces


def _invoice() -> bytes:
    return invoice.build(
        town="Ville de Belval", siret="", service="Service Enfance", contact="", family="Wiśniewski",
        family_number="000042", address="3 rue Łódzka", subscription_code="BELV-0042", number="F-2026-0001",
        is_credit_note=False, label="Consommations de septembre 2026", issued=date(2026, 10, 1),
        period=(date(2026, 9, 1), date(2026, 9, 30)),
        lines=[("Restauration scolaire — Łucja — 2 jours", 2, 350, 700),
               ("Accueil soir — Ștefan Yılmaz — 1 jour", 1, 200, 200)], total=900, left=900)


def _tax() -> bytes:
    return tax.build(town="Ville de Belval", siret="", address="1 place de la Mairie", family="Wiśniewski",
                     guardians="Ștefan Yılmaz", child="Łucja Wiśniewska", born=date(2022, 9, 14), year=2026,
                     amount=12345, issued=date(2027, 1, 15))


@pytest.mark.parametrize("build", [_invoice, _tax], ids=["facture", "attestation fiscale"])
def test_every_letter_of_a_name_is_printed(poppler, tmp_path, build):
    text, faces = _read(build(), tmp_path, build.__name__)
    for name in NAMES[:2]:
        assert name in text
    assert "■" not in text
    assert "DejaVuSans" in faces and "yes" in faces  # embedded (a subset)


def test_the_statement_prints_them_too(poppler, tmp_path):
    movement = statement.Movement(when=datetime(2026, 9, 30, 10), label="Consommations — Łucja Wiśniewska",
                                  cents=-700)
    pdf = statement.build(town="Ville de Belval", service="Service Enfance", family="Wiśniewski",
                          family_number="000042", address="3 rue Łódzka", movements=[movement],
                          period=statement.Period(2026), detailed=True, today=date(2026, 10, 1))
    text, faces = _read(pdf, tmp_path, "releve")
    assert "Łucja Wiśniewska" in text and "Wiśniewski" in text
    assert "DejaVuSans" in faces
