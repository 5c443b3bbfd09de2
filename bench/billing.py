"""Benchmark of the monthly billing run: N households with a month of bookings,
invoiced (post-paid) with one PDF per invoice. Prints the time of each step.

    .venv/bin/python bench/billing.py [--households 10000] [--database-url URL]

Builds its own throw-away SQLite database (or uses the PostgreSQL URL given,
which must be an empty database); never touches the instance folder.
Budget: 10,000 households, run and PDFs, under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(app, households: int) -> date:
    """A commune, a canteen and an after-school club with prices, and households of
    one to two children booked on every school day of last month."""
    from sqlalchemy import insert

    from citoyen.db import new_session
    from citoyen.models import Activity
    from citoyen.models import Booking
    from citoyen.models import Child
    from citoyen.models import Household
    from citoyen.models import Organisation
    from citoyen.models import PriceBracket
    from citoyen.models import Site
    from citoyen.models import Slot

    last = date.today().replace(day=1) - timedelta(days=1)
    month = last.replace(day=1)
    days = [month + timedelta(days=i) for i in range(last.day) if (month + timedelta(days=i)).weekday() in (0, 1, 3, 4)]
    with new_session(app) as session:
        town = Organisation(name="Ville de Banc-d'Essai", slug="banc", postcodes="99999", billing_mode="postpaid")
        session.add(town)
        session.flush()
        site = Site(organisation_id=town.id, name="École")
        session.add(site)
        session.flush()
        canteen = Activity(organisation_id=town.id, site_id=site.id, name="Restauration scolaire",
                           default_capacity=households * 2)
        evening = Activity(organisation_id=town.id, site_id=site.id, name="Accueil soir",
                           default_capacity=households * 2)
        session.add_all([canteen, evening])
        session.flush()
        for activity, prices in ((canteen, (120, 250, 390)), (evening, (110, 160, 220))):
            for ceiling, cents in zip((600, 1200, None), prices, strict=True):
                session.add(PriceBracket(activity_id=activity.id, max_quotient=ceiling, price_cents=cents))
        slots = {}
        for activity in (canteen, evening):
            for day in days:
                slot = Slot(activity_id=activity.id, day=day, capacity=households * 2, booked=0)
                session.add(slot)
                slots[(activity.id, day)] = slot
        session.flush()
        session.execute(insert(Household), [
            {"organisation_id": town.id, "family_number": f"{i:06d}", "subscription_code": f"BANC-{i:07d}",
             "name": f"Famille {i}", "family_quotient": (None, 450, 900, 1500)[i % 4]}
            for i in range(households)])
        ids = [h for (h,) in session.execute(Household.__table__.select().with_only_columns(Household.id))]
        children = []
        for n, household_id in enumerate(ids):
            for k in range(1 + n % 2):
                children.append({"household_id": household_id, "first_name": f"Enfant{k}", "last_name": f"F{n}",
                                 "birth_date": date(2019 + k, 5, 1)})
        session.execute(insert(Child), children)
        child_ids = [c for (c,) in session.execute(Child.__table__.select().with_only_columns(Child.id))]
        rows = []
        for c, child_id in enumerate(child_ids):
            for day in days:
                rows.append({"slot_id": slots[(canteen.id, day)].id, "child_id": child_id,
                             "activity_id": canteen.id, "day": day, "status": "booked"})
                if c % 3 == 0:
                    rows.append({"slot_id": slots[(evening.id, day)].id, "child_id": child_id,
                                 "activity_id": evening.id, "day": day, "status": "booked"})
        for start in range(0, len(rows), 50_000):
            session.execute(insert(Booking), rows[start:start + 50_000])
        session.commit()
        print(f"  {households} foyers, {len(child_ids)} enfants, {len(rows)} réservations sur {len(days)} jours")
        return month, town.id


_app = None


def _pdf_worker_init(config):
    global _app
    from citoyen import create_app

    _app = create_app(config)


def _pdfs(invoice_ids):
    from citoyen.db import new_session
    from citoyen.services import invoices

    size = 0
    with new_session(_app) as session:
        for start in range(0, len(invoice_ids), 500):
            for _, document in invoices.pdfs(session, invoice_ids[start:start + 500]):
                size += len(document)
    return size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="citoyen-bench-billing-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    config = {"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench", "INSTANCE_PATH": folder,
              "MAIL_BACKEND": "memory"}
    from citoyen import create_app
    from citoyen.db import new_session
    from citoyen.models import Invoice
    from citoyen.services import billing

    app = create_app(config)
    with app.app_context():
        from citoyen.cli import upgrade_database

        upgrade_database(app)
    print("Facturation mensuelle — banc d'essai")
    started = time.perf_counter()
    month, town_id = build(app, args.households)
    print(f"  préparation des données : {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with new_session(app) as session:
        run = billing.start_run(session, None, town_id, month)
        run_id = run.id
    billing.execute_run(lambda: new_session(app), run_id, "http://127.0.0.1:5000", progress_every=500)
    run_seconds = time.perf_counter() - started
    with new_session(app) as session:
        run = session.get(billing.BillingRun, run_id)
        ids = [i for (i,) in session.execute(Invoice.__table__.select().with_only_columns(Invoice.id))]
        print(f"  facturation : {run.documents} factures, {run.amount_cents / 100:,.2f} € en {run_seconds:.1f} s "
              f"({run.done / run_seconds:.0f} foyers/s)".replace(",", " "))

    started = time.perf_counter()
    chunks = [ids[i::args.workers] for i in range(args.workers)]
    with ProcessPoolExecutor(args.workers, initializer=_pdf_worker_init, initargs=(config,)) as pool:
        size = sum(pool.map(_pdfs, chunks))
    pdf_seconds = time.perf_counter() - started
    print(f"  PDF : {len(ids)} factures en {pdf_seconds:.1f} s avec {args.workers} processus, "
          f"{size / max(len(ids), 1) / 1024:.1f} Kio en moyenne")
    total = run_seconds + pdf_seconds
    print(f"  total facturation + PDF : {total:.1f} s (budget : 120 s pour 10 000 foyers)")
    print(f"  mémoire maximale du processus principal : "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} Mio")


if __name__ == "__main__":
    main()
