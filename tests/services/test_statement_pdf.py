"""« Relevé de compte » as a PDF: the right figures, real text, small, and it
looks right once turned into an image."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from citoyen.models import LedgerEntry
from citoyen.services import households
from citoyen.services import ledger
from tests import factories
from tests.services.helpers import poppler_tool

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _text(pdf: bytes, tmp_path) -> str:
    source = tmp_path / "releve.pdf"
    source.write_bytes(pdf)
    return subprocess.run([poppler_tool("pdftotext"), "-layout", str(source), "-"], capture_output=True,
                          check=True, text=True).stdout


@pytest.fixture
def household(db, agent):
    town = factories.organisation(db, name="Ville de Belval-sur-Loire")
    found = households.create_household(db, agent, town, name="Martin & Fils <test>",
                                        guardian_first_name="Camille", guardian_last_name="Martin",
                                        address_line1="5 rue Neuve", postcode="45990", city="Belval")
    ledger.record_cash(db, agent, found, "20")
    ledger.record_cash(db, agent, found, "30,50")
    ledger.refund(db, agent, found, "5", "Trop-perçu")
    dates = [datetime(2025, 12, 20, 10), datetime(2026, 2, 3, 9), datetime(2026, 2, 10, 16)]
    for entry, when in zip(sorted(ledger.entries(db, found.id), key=lambda e: e.id), dates, strict=True):
        db.execute(update(LedgerEntry).where(LedgerEntry.id == entry.id).values(created_at=when))
    db.commit()
    return found


def test_detailed_year_statement(db, household, tmp_path):
    pdf = ledger.statement_pdf(db, household, 2026, None, detailed=True)
    assert pdf.startswith(b"%PDF") and len(pdf) < 100_000
    text = _text(pdf, tmp_path)
    assert "Relevé de compte — année 2026" in text and "Martin & Fils <test>" in text
    assert "Solde au début de la période" in text and "20,00 €" in text  # December 2025 carried over
    assert "03/02/2026" in text and "30,50 €" in text and "Remboursement — Trop-perçu" in text
    assert "45,50 €" in text


def test_simplified_month_and_all_time(db, household, tmp_path):
    month = _text(ledger.statement_pdf(db, household, 2026, 2, detailed=False), tmp_path)
    assert "février 2026" in month and "45,50 €" in month and "Trop-perçu" not in month
    everything = _text(ledger.statement_pdf(db, household, None, None, detailed=False), tmp_path)
    assert "décembre 2025" in everything and "février 2026" in everything
    empty = _text(ledger.statement_pdf(db, household, 2024, None, detailed=True), tmp_path)
    assert "Aucun mouvement sur cette période" in empty


def test_the_statement_looks_right(db, household, tmp_path):
    source = tmp_path / "releve.pdf"
    source.write_bytes(ledger.statement_pdf(db, household, 2026, None, detailed=True))
    target = ARTIFACTS / "pdf" / "releve-compte"
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([poppler_tool("pdftoppm"), "-png", "-r", "50", "-f", "1", "-l", "1", "-singlefile",
                    str(source), str(target)], check=True)
    png = target.with_suffix(".png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000
