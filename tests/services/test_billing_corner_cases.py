"""Billing at its edges: labels longer than their column, cents of an
invoice paid over two years, rounding of the surcharge, free prices written
in every way, and long labels on the « Relevé de compte »."""

from __future__ import annotations

import html
import re
import subprocess
from datetime import date
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from reportlab.lib.units import mm
from sqlalchemy import select

from citoyen.db import new_session
from citoyen.models import Activity
from citoyen.models import BillingRun
from citoyen.models import Child
from citoyen.models import Invoice
from citoyen.models import InvoiceLine
from citoyen.models import LedgerEntry
from citoyen.models import PriceBracket
from citoyen.models.money import ENTRY_CONSUMPTION
from citoyen.pdf import statement
from citoyen.services import agenda
from citoyen.services import billing
from citoyen.services import invoices
from citoyen.services import ledger
from citoyen.services.errors import DomainError
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import household
from tests.conftest import fresh
from tests.services.helpers import poppler_tool
from tests.services.test_billing import _days
from tests.services.test_billing import _mode
from tests.services.test_billing import _received
from tests.services.test_billing import town  # noqa: F401

LONG_ACTIVITY = ("Accueil de loisirs périscolaire du mercredi après-midi et des petites vacances "
                 "— École maternelle Jules-Ferry (site annexe du quartier des Tilleuls)")
LONG_FIRST_NAME = ("Marie-Charlotte-Eugénie-Philippine-Bernadette-Joséphine-Apolline-"
                   "Clémentine-Gwendoline-Ysaline")


# ---------------------------------------------------------------- labels longer than their column

def test_a_short_label_is_kept_and_a_long_one_ends_with_an_ellipsis():
    column = LedgerEntry.__table__.c.label
    limit = column.type.length
    assert billing.fit("Consommations de mars 2026", column) == "Consommations de mars 2026"
    exact = "x" * limit
    assert billing.fit(exact, column) == exact
    cut = billing.fit("y" * (limit + 1), column)
    assert len(cut) == limit and cut.endswith("…") and cut.startswith("y" * (limit - 1))
    # A cut never leaves a space before the ellipsis.
    spaced = billing.fit("a" * (limit - 3) + "   " + "b" * 10, column)
    assert spaced == "a" * (limit - 3) + "…"


@pytest.mark.parametrize("mode", ["prepaid", "postpaid"])
def test_a_long_activity_name_and_first_name_do_not_stop_the_run(app, db, town, mode):  # noqa: F811
    assert len(LONG_ACTIVITY) == 148 and len(LONG_FIRST_NAME) <= 100
    _mode(db, town, mode)
    db.get(Activity, town.canteen.id).name = LONG_ACTIVITY
    leo = db.get(Child, town.leo.id)
    leo.first_name = LONG_FIRST_NAME
    leo.birth_date = date.today() - timedelta(days=3 * 365)  # under 6: the longest label
    db.commit()
    day = _days(1)[0]
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    run = billing.start_run(db, town.agent, town.organisation.id, day,
                            today=billing.month_end(day) + timedelta(days=1))
    billing.execute_run(lambda: new_session(app), run.id, BASE_URL)
    fresh(db)
    run = db.get(BillingRun, run.id)
    assert run.status == "done" and run.documents == 1 and run.amount_cents == 400
    if mode == "prepaid":
        column = LedgerEntry.__table__.c.label
        [label] = db.scalars(select(LedgerEntry.label).where(LedgerEntry.kind == ENTRY_CONSUMPTION))
    else:
        column = InvoiceLine.__table__.c.label
        [label] = db.scalars(select(InvoiceLine.label))
        assert len(db.scalar(select(Invoice.label))) <= Invoice.__table__.c.label.type.length
    assert len(label) == column.type.length and label.endswith("…")
    assert label.startswith(("Consommations de ", LONG_ACTIVITY[:40]))
    assert ledger.balance(db, town.household.id) == -400
    # Started again, the run bills nobody twice.
    run = billing.start_run(db, town.agent, town.organisation.id, day,
                            today=billing.month_end(day) + timedelta(days=1))
    billing.execute_run(lambda: new_session(app), run.id, BASE_URL)
    fresh(db)
    assert db.get(BillingRun, run.id).status == "done"
    assert ledger.balance(db, town.household.id) == -400


# ---------------------------------------------------------------- attestation fiscale

def _under_six(db, child_id: int, year: int) -> Child:
    child = db.get(Child, child_id)
    child.birth_date = date(year - 3, 5, 1)
    db.commit()
    return child


def test_an_invoice_paid_over_two_years_is_certified_to_the_cent(db, town):  # noqa: F811
    _mode(db, town, "postpaid")
    year = date.today().year - 1
    leo = _under_six(db, town.leo.id, year)
    invoices.issue(db, town.household, "Facture", date(year - 1, 12, 1), date(year - 1, 12, 31),
                   [invoices.Line("Cantine — Léo", 1, 100, leo.id, True),
                    invoices.Line("Accueil — Léo", 1, 100, leo.id, True),
                    invoices.Line("Cantine — Inès", 1, 101, town.ines.id, False)])
    db.commit()
    _received(db, datetime(year - 1, 12, 20, 10))
    ledger.record_cash(db, town.agent, town.household, "1,50")
    _received(db, datetime(year - 1, 12, 28, 10))
    ledger.record_cash(db, town.agent, town.household, "1,51")
    _received(db, datetime(year, 1, 5, 10))
    assert ledger.balance(db, town.household.id) == 0
    before, after = billing.tax_amount(db, leo, year - 1), billing.tax_amount(db, leo, year)
    assert before + after == 200
    assert before == 2 * (100 * 150 // 301)  # what December's money paid of each line


def test_what_is_certified_adds_up_to_what_was_paid(db, town):  # noqa: F811
    """Random invoice lines paid in random parts over three years: each child is
    certified, over the years, what was paid of its lines under 6 (all of it once
    the invoice is paid), never more; a year's amount does not change later."""
    _mode(db, town, "postpaid")
    first = date.today().year - 3
    years = [first, first + 1, first + 2]

    lines_strategy = st.lists(st.tuples(st.sampled_from([0, 1]), st.booleans(), st.integers(1, 5_000)),
                              min_size=1, max_size=5)

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(lines=lines_strategy, data=st.data())
    def check(lines, data):
        home = household(db, town.organisation, name="Propriété")
        kids = home.children
        total = sum(cents for _, _, cents in lines)
        paid_in_all = data.draw(st.one_of(st.just(total), st.integers(1, total)), label="paid")
        cuts = sorted(data.draw(st.sets(st.integers(1, paid_in_all - 1), max_size=3), label="cuts")) \
            if paid_in_all > 1 else []
        bounds = [0, *cuts, paid_in_all]
        parts = [b - a for a, b in zip(bounds, bounds[1:], strict=False)]
        when = sorted(data.draw(st.lists(st.sampled_from(years), min_size=len(parts), max_size=len(parts)),
                                label="years"))
        invoices.issue(db, home, "Facture", date(first - 1, 12, 1), date(first - 1, 12, 31),
                       [invoices.Line(f"Ligne {i}", 1, cents, kids[child].id, young)
                        for i, (child, young, cents) in enumerate(lines)])
        db.commit()
        _received(db, datetime(first - 1, 12, 20, 10))
        closed: dict[tuple[int, int], int] = {}
        for index, (cents, year) in enumerate(zip(parts, when, strict=True)):
            if index and when[index - 1] != year:  # a year is over: what it certifies is fixed
                for kid in kids:
                    closed[kid.id, when[index - 1]] = billing.tax_amount(db, kid, when[index - 1])
            ledger.record_cash(db, town.agent, home, f"{cents // 100},{cents % 100:02d}")
            _received(db, datetime(year, 1 + index, 10, 10))
        for kid_index, kid in enumerate(kids):
            certified = [billing.tax_amount(db, kid, year) for year in years]
            assert all(amount >= 0 for amount in certified)
            mine = [cents for child, young, cents in lines if child == kid_index and young]
            attributed = sum(cents * paid_in_all // total for cents in mine)
            assert sum(certified) == attributed <= sum(mine)
            if paid_in_all == total:
                assert sum(certified) == sum(mine)
            for year in years:
                if (kid.id, year) in closed:
                    assert billing.tax_amount(db, kid, year) == closed[kid.id, year]

    check()


# ---------------------------------------------------------------- surcharge and free prices

@pytest.mark.parametrize("price, percent, expected", [
    (333, 15, 383),    # 3,8295 € → 3,83 €
    (250, 15, 288),    # 2,875 € → 2,88 €: a half cent goes up
    (10, 5, 11),       # 0,105 € → 0,11 €
    (400, 25, 500),
    (399, 0, 399),
    (1, 200, 3),
])
def test_the_surcharge_is_rounded_to_the_nearest_cent(price, percent, expected):
    grid = {1: [PriceBracket(activity_id=1, max_quotient=None, price_cents=price)]}
    child = SimpleNamespace(id=7, first_name="Léo")
    activity = SimpleNamespace(id=1, name="Cantine")
    home = SimpleNamespace(family_quotient=None)
    [charge] = billing._priced(home, {(7, 1, False, True): 1}, {7: child}, {1: activity}, grid, percent)
    assert charge.unit_cents == expected


@pytest.mark.parametrize("free", ["0", "0,00", "0.00", "0 €", "0,0", " 0,00 € ", "0\u202f€"])
def test_a_free_price_is_accepted_however_it_is_written(db, town, free):  # noqa: F811
    billing.set_prices(db, town.agent, town.canteen.id, [("500", free), ("", "4,00")])
    grid = billing.brackets_of(db, [town.canteen.id])[town.canteen.id]
    assert [(b.max_quotient, b.price_cents) for b in grid] == [(500, 0), (None, 400)]


@pytest.mark.parametrize("price", ["-0,50", "zéro", "0,001", "-1"])
def test_a_price_that_is_not_an_amount_is_still_refused(db, town, price):  # noqa: F811
    with pytest.raises(DomainError) as raised:
        billing.set_prices(db, town.agent, town.canteen.id, [("", price)])
    assert raised.value.field == "brackets-0-price"


# ---------------------------------------------------------------- long labels on the statement

WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def test_long_labels_wrap_in_their_column_on_the_statement(tmp_path):
    labels = [
        "Consommations de novembre 2026 — Restauration scolaire — Maxime (moins de 6 ans) — "
        "12 jours à 3,50 €",
        "Paiement en espèces à la mairie — Règlement de Mme WILLEMAERT pour novembre",
        f"Consommations de novembre 2026 — {LONG_ACTIVITY} — {LONG_FIRST_NAME}"[:199] + "…",
        "Compte d'avance utilisé pour la facture F2026-000123",
    ]
    movements = [statement.Movement(datetime(2026, 11, 2 + i, 8), label, 4200 if i % 2 else -4200)
                 for i, label in enumerate(labels)]
    pdf = statement.build(town="Ville", service="", family="Martin", family_number="F1", address="",
                          movements=movements, period=statement.Period(2026, 11), detailed=True,
                          today=date(2026, 12, 3))
    source = tmp_path / "releve.pdf"
    source.write_bytes(pdf)
    boxes = subprocess.run([poppler_tool("pdftotext"), "-bbox", str(source), "-"], capture_output=True,
                           check=True, text=True).stdout
    words = [(float(x0), float(y0), float(x1), html.unescape(text))
             for x0, y0, x1, _, text in WORD.findall(boxes)]
    label_start, credit_start = (18 + 24) * mm, (18 + 24 + 78) * mm
    [table_top] = [y0 for _, y0, _, text in words if text == "Opération"]
    words = [w for w in words if w[1] >= table_top]
    in_column = [w for w in words if label_start <= w[0] < credit_start]
    # Nothing written in the label column reaches the amounts.
    assert in_column and all(x1 <= credit_start for _, _, x1, _ in in_column)
    # Every label is there whole (the long one with its ellipsis).
    column_text = " ".join(text for _, _, _, text in sorted(in_column, key=lambda w: (w[1], w[0])))
    for label in labels:
        assert label in column_text
    assert labels[2].endswith("…")
    amounts = [text for x0, _, _, text in words if x0 >= credit_start]
    assert amounts.count("42,00") == 4
