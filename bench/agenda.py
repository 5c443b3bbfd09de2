"""Benchmark of the agenda: the month page, the click-to-book POST and the opening rush.

Generates a town (10,000 households, 15,000 children, 6 sites with 4
activities each, a school year of slots), starts the portal with gunicorn
(2 sync workers, SQLite WAL) on a free loopback port and prints, in one run:

- req/s and p50/p99 of a constant-string Flask route (the ceiling of the
  stack), of the month agenda of a parent with two children (served again
  from the kept page, and worked out on every request with the page cache
  off) and of a click-to-book POST, each as a ratio to the ceiling (wrk), in
  rounds (3 by default) that measure each route in turn: each ratio is taken
  against the ceiling of its own round, and the median is kept;
- "the opening rush": N parents (default 2,000) who sign in, open the agenda
  and book 10 days each, concurrently: total time, p99, errors, and the check
  that no slot exceeds its capacity (and that counters equal the bookings);
- the agenda page's size on first load (gzip, with CSS and htmx) and a
  booking fragment's size;
- the SQL queries per agenda page (one child and two children);
- the time to book a whole school year with « Saisie groupée ».

The figures also go to bench/results/latest.json.

    .venv/bin/python bench/agenda.py [--seconds 5] [--connections 64] [--rush 2000] [--rounds 3]

Traffic goes only to 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from accounts import free_port  # noqa: E402
from accounts import run_wrk  # noqa: E402
from accounts import wait_for  # noqa: E402

PASSWORD = "Citoyen2026"
HOUSEHOLDS = 10_000
CHILDREN = 15_000
SITES = 6
WRK_PARENTS = 40  # per round of the click measure


# ---------------------------------------------------------------- the town

def build_town(url: str, rush_parents: int, rounds: int = 1) -> dict:
    """Fill the database with core inserts (fast); returns what the run needs."""
    from sqlalchemy import create_engine
    from sqlalchemy import insert
    from sqlalchemy import select

    from citoyen import passwords
    from citoyen.models import Account
    from citoyen.models import Activity
    from citoyen.models import Child
    from citoyen.models import Enrolment
    from citoyen.models import Household
    from citoyen.models import HouseholdLink
    from citoyen.models import Organisation
    from citoyen.models import Site
    from citoyen.models import Slot
    from citoyen.models.base import utcnow
    from citoyen.services.agenda import local_now
    from citoyen.services.booking_rules import public_holiday
    from citoyen.services.booking_rules import school_holiday

    engine = create_engine(url)
    now = utcnow()
    today = local_now().date()
    start = today
    end = today + timedelta(days=300)
    password_hash = passwords.hash_password(PASSWORD)
    with engine.begin() as conn:
        org = conn.execute(insert(Organisation).values(
            name="Ville de Banc-d'Essai", slug="banc", postcodes="45000", school_zone="B")
            .returning(Organisation.id)).scalar_one()
        site_ids = [conn.execute(insert(Site).values(organisation_id=org, name=f"École {i + 1}")
                                 .returning(Site.id)).scalar_one() for i in range(SITES)]
        from datetime import time as clock

        specs = [("Accueil matin", clock(7, 30), clock(8, 20), 60),
                 ("Restauration scolaire", clock(11, 45), clock(13, 30), 60),
                 ("Accueil soir 1", clock(16, 30), clock(17, 30), 60),
                 ("Accueil soir 2", clock(17, 30), clock(18, 30), 40)]
        activities: dict[int, list[int]] = {}
        for site in site_ids:
            activities[site] = [conn.execute(insert(Activity).values(
                organisation_id=org, site_id=site, name=name, weekdays="0134", start_time=s, end_time=e,
                default_capacity=cap, school_holidays="closed", needs_validation=False, book_kind="days",
                book_hours=0, book_days=1, book_time=clock(12, 0), cancel_kind="days", cancel_hours=0,
                cancel_days=1, cancel_time=clock(12, 0), working_days=False, opens_days_ahead=365,
                archived=False, created_at=now).returning(Activity.id)).scalar_one()
                for name, s, e, cap in specs]
        conn.execute(insert(Household), [
            {"organisation_id": org, "family_number": f"{i:06d}", "subscription_code": f"BNCH-{i:08d}",
             "name": f"Famille {i}", "created_at": now} for i in range(HOUSEHOLDS)])
        household_ids = list(conn.scalars(select(Household.id).order_by(Household.id)))
        rows = []
        for i in range(CHILDREN):
            household = household_ids[i % HOUSEHOLDS]
            rows.append({"household_id": household, "first_name": f"Enfant{i // HOUSEHOLDS + 1}",
                         "last_name": f"Famille {i % HOUSEHOLDS}", "birth_date": date(2017, 1, 1),
                         "status": "validated", "created_at": now})
        conn.execute(insert(Child), rows)
        children = conn.execute(select(Child.id, Child.household_id).order_by(Child.id)).all()
        site_of = {h: site_ids[i % SITES] for i, h in enumerate(household_ids)}
        enrolments = []
        for child_id, household in children:
            acts = activities[site_of[household]]
            for act in acts[:3] if child_id % 2 else acts[1:]:
                enrolments.append({"child_id": child_id, "activity_id": act, "start_date": start,
                                   "end_date": end, "status": "validated", "reason": "", "created_at": now})
        conn.execute(insert(Enrolment), enrolments)
        days = []
        day = start
        while day <= end:
            if day.weekday() in (0, 1, 3, 4) and not public_holiday(day) and not school_holiday(day, "B"):
                days.append(day)
            day += timedelta(days=1)
        conn.execute(insert(Slot), [
            {"activity_id": a, "day": d, "capacity": cap, "capacity_overridden": False, "booked": 0}
            for site in site_ids for a, (_n, _s, _e, cap) in zip(activities[site], specs, strict=True) for d in days])
        # Accounts: the parent whose agenda is measured, the wrk bookers, the one
        # whose « Saisie groupée » is timed, the rush.
        by_household: dict[int, list[int]] = {}
        for child_id, household in children:
            by_household.setdefault(household, []).append(child_id)
        two_children = [h for h in household_ids if len(by_household[h]) == 2][:2 + WRK_PARENTS * rounds]
        accounts = []
        for i, household in enumerate(two_children + household_ids[-rush_parents:]):
            accounts.append((f"parent{i}@banc.example", household))
        conn.execute(insert(Account), [
            {"email": email, "first_name": "Parent", "last_name": str(i), "password_hash": password_hash,
             "role": "parent", "created_at": now, "activated_at": now, "terms_accepted_at": now,
             "failed_sign_ins": 0, "session_epoch": f"{i:016x}", "email_notifications": False}
            for i, (email, _h) in enumerate(accounts)])
        ids = dict(conn.execute(select(Account.email, Account.id)).all())
        conn.execute(insert(HouseholdLink), [
            {"account_id": ids[email], "household_id": h, "method": "code", "created_at": now}
            for email, h in accounts])
    bookable = [d for d in days if d >= today + timedelta(days=2)]
    engine.dispose()
    return {"accounts": accounts, "days": bookable, "wrk_parents": WRK_PARENTS * rounds,
            "children": {h: by_household[h] for _e, h in accounts},
            "activities": {h: activities[site_of[h]] for _e, h in accounts}, "enrolments": len(enrolments),
            "slots": len(days) * len(site_ids) * len(specs)}


# ---------------------------------------------------------------- a browser-like client

WRK_THREADS = 2
USER_AGENT = "Mozilla/5.0 (Linux; Android 9) citoyen-bench"  # one browser: the same on every request


class Client:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.addheaders = [("User-Agent", USER_AGENT)]
        self.token = ""

    def request(self, path: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def sign_in(self, email: str) -> None:
        _status, page = self.request("/connexion")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        status, _ = self.request("/connexion", {"csrf_token": token, "email": email, "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"sign-in of {email}: HTTP {status}")

    def agenda(self, path: str = "/agenda") -> bytes:
        status, page = self.request(path)
        if status != 200:
            raise RuntimeError(f"agenda: HTTP {status}")
        self.token = re.search(rb'"X-CSRFToken": "([^"]+)"', page).group(1).decode()
        return page

    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def book(self, child: int, day: date, activity: int) -> tuple[int, bytes]:
        return self.request(f"/agenda/{child}/{day.isoformat()}/{activity}/reservation", {},
                            {"HX-Request": "true", "X-CSRFToken": self.token})


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0.0


def ms(value: str | None) -> float:
    """wrk's « 12.34ms » / « 1.2s » / « 900us » in milliseconds."""
    if not value:
        return 0.0
    number = float(re.match(r"[\d.]+", value).group(0))
    return number * {"us": 0.001, "ms": 1, "s": 1000}[re.search(r"[a-z]+$", value).group(0)]


def wrk_lua(path: str, parents: list[tuple[str, str, list[str]]]) -> None:
    """A wrk script: each request books another (child, day, activity) for one
    of the parents. Each wrk thread runs its own copy of the script: thread k
    of t takes requests k, k + t, k + 2t… of one sequence, so that no two
    requests book the same cell."""
    lines = ["local parents = {"]
    for cookie, token, paths in parents:
        joined = ",".join(json.dumps(p) for p in paths)
        lines.append(f"  {{cookie={json.dumps(cookie)}, token={json.dumps(token)}, paths={{{joined}}}}},")
    lines += ["}", "local threads = 0",
              "setup = function(thread)", "  thread:set(\"index\", threads)", "  threads = threads + 1", "end",
              "local n = -1", "request = function()", "  n = n + 1",
              f"  local k = n * {WRK_THREADS} + index",
              "  local p = parents[(k % #parents) + 1]",
              "  local i = (math.floor(k / #parents) % #p.paths) + 1",
              '  local headers = {["Cookie"]=p.cookie, ["X-CSRFToken"]=p.token, ["HX-Request"]="true",'
              f' ["User-Agent"]={json.dumps(USER_AGENT)}, ["Content-Type"]="application/x-www-form-urlencoded"}}',
              '  return wrk.format("POST", p.paths[i], headers, "")', "end"]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def run_wrk_script(url: str, script: str, seconds: int, connections: int) -> dict:
    args = ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s",
            script, url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "non2xx": int(errors.group(1)) if errors else 0,
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def bookings_of(url: str, children: list[int]) -> int:
    """The places the children hold: after a measure, one per click answered."""
    from sqlalchemy import bindparam
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM booking WHERE status = 'booked' AND child_id IN :children")
                             .bindparams(bindparam("children", expanding=True)), {"children": children}).scalar_one()
    engine.dispose()
    return count


def gunicorn(app: str, port: int, env: dict, cwd: str) -> subprocess.Popen:
    return subprocess.Popen([os.path.join(BIN, "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--backlog", "4096", "--log-level", "error", app], cwd=cwd, env=env)


def stop(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


# ---------------------------------------------------------------- in-process measures

def in_process(instance: str, url: str, town: dict) -> dict:
    """SQL queries per agenda page, and a school year of « Saisie groupée »."""
    from sqlalchemy import event

    from citoyen import create_app
    from citoyen.db import engine
    from citoyen.db import new_session
    from citoyen.models import Account
    from citoyen.services import agenda

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench", "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    email, household = town["accounts"][0]
    client.post("/connexion", data={"email": email, "password": PASSWORD})
    counts = {}
    for label, query in (("two", "?enfant=tous"), ("one", f"?enfant={town['children'][household][0]}")):
        seen: list[int] = []

        def listener(*args, seen=seen):
            seen.append(1)

        event.listen(engine(app), "before_cursor_execute", listener)
        response = client.get("/agenda" + query)
        event.remove(engine(app), "before_cursor_execute", listener)
        assert response.status_code == 200, response.status_code
        counts[label] = len(seen)
    timings = []
    for _ in range(30):
        started = time.perf_counter()
        client.get("/agenda")
        timings.append((time.perf_counter() - started) * 1000)
    cold = []
    app.config["AGENDA_CACHE_SIZE"] = 0  # a page worked out and rendered every time
    app.extensions.pop("citoyen.agenda_pages", None)
    for _ in range(30):
        started = time.perf_counter()
        client.get("/agenda")
        cold.append((time.perf_counter() - started) * 1000)
    email, household = town["accounts"][1 + town["wrk_parents"]]
    with new_session(app) as session:
        actor = session.query(Account).filter_by(email=email).one()
        today = agenda.local_now().date()
        # As a parent does: the preview first, then « Créer ». The first preview
        # of a process also pays for what is built once (statements, calendars).
        year = (session, actor, town["children"][household], town["activities"][household][1:3],
                today + timedelta(days=2), today + timedelta(days=300), [0, 1, 3, 4], "create", "http://127.0.0.1")
        started = time.perf_counter()
        agenda.bulk(*year, apply=False)
        preview_seconds = time.perf_counter() - started
        started = time.perf_counter()
        lines = agenda.bulk(*year, apply=True)
        bulk_seconds = time.perf_counter() - started
    engine(app).dispose()
    return {"queries_per_agenda": counts["two"], "queries_per_agenda_one_child": counts["one"],
            "agenda_ms_in_process": round(percentile(timings, 50), 1),
            "agenda_ms_in_process_uncached": round(percentile(cold, 50), 1),
            "bulk_year_seconds": round(bulk_seconds, 3), "bulk_year_bookings": sum(line.ok for line in lines),
            "bulk_year_preview_seconds": round(preview_seconds, 3)}


def check_counters(url: str) -> tuple[int, int]:
    from sqlalchemy import create_engine
    from sqlalchemy import text

    engine = create_engine(url)
    with engine.connect() as conn:
        over = conn.execute(text("SELECT count(*) FROM slot WHERE booked > capacity")).scalar_one()
        mismatched = conn.execute(text(
            "SELECT count(*) FROM slot s WHERE s.booked != (SELECT count(*) FROM booking b WHERE b.slot_id = s.id"
            " AND b.status IN ('booked', 'present', 'absent_unjustified'))")).scalar_one()
    engine.dispose()
    return over, mismatched


# ---------------------------------------------------------------- the run

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rush", type=int, default=2000, help="parents in the opening rush")
    parser.add_argument("--rush-threads", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the req/s measures (median kept)")
    parser.add_argument("--rush-only", action="store_true", help="skip the wrk measures")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    instance = tempfile.mkdtemp(prefix="citoyen-bench-agenda-")
    url = "sqlite:///" + os.path.join(instance, "citoyen.db")
    env = {**os.environ, "CITOYEN_INSTANCE_PATH": instance, "CITOYEN_SECRET_KEY": "bench-secret",
           "CITOYEN_RATELIMIT_ENABLED": "false", "CITOYEN_BASE_URL": "http://127.0.0.1",
           "CITOYEN_MAIL_BACKEND": "file"}
    results: dict = {}
    servers = []
    try:
        subprocess.run([os.path.join(BIN, "flask"), "--app", "wsgi", "migrate"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        started = time.perf_counter()
        town = build_town(url, options.rush, options.rounds)
        print(f"town: {HOUSEHOLDS} households, {CHILDREN} children, {SITES} sites × 4 activities, "
              f"{town['slots']} slots, {town['enrolments']} enrolments, built in "
              f"{time.perf_counter() - started:.1f} s")
        results.update(in_process(instance, url, town))

        ceiling_port = free_port()
        servers.append(gunicorn("ceiling_app:app", ceiling_port, env, HERE))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        servers.append(gunicorn("wsgi:app", port, env, ROOT))
        # The same page worked out and rendered on every request (no kept page),
        # as for a family's first view of a month or after any change.
        cold_port = free_port()
        servers.append(gunicorn("wsgi:app", cold_port, {**env, "CITOYEN_AGENDA_CACHE_SIZE": "0"}, ROOT))
        ceiling_url, cold_url = f"http://127.0.0.1:{ceiling_port}/", f"http://127.0.0.1:{cold_port}/agenda"
        wait_for(ceiling_url)
        wait_for(base + "/sante")
        wait_for(f"http://127.0.0.1:{cold_port}/sante")

        measured = Client(base)
        measured.sign_in(town["accounts"][0][0])
        page = measured.agenda()
        headers = {"Cookie": measured.cookie(), "User-Agent": USER_AGENT}
        # Each round books with its own parents, so that every click of the measure writes.
        scripts, script_children, cells = [], [], []
        wrk_accounts = town["accounts"][1:1 + town["wrk_parents"]]
        for number in range(options.rounds):
            parents = []
            round_accounts = wrk_accounts[number * WRK_PARENTS:(number + 1) * WRK_PARENTS]
            for email, household in round_accounts:
                client = Client(base)
                client.sign_in(email)
                client.agenda()
                paths = [f"/agenda/{c}/{d.isoformat()}/{a}/reservation" for d in town["days"][20:]
                         for c in town["children"][household] for a in town["activities"][household][1:3]]
                parents.append((client.cookie(), client.token, paths))
            scripts.append(os.path.join(instance, f"book{number}.lua"))
            wrk_lua(scripts[-1], parents)
            cells.append(sum(len(paths) for _c, _t, paths in parents))
            script_children.append([c for _e, household in round_accounts for c in town["children"][household]])

        wrk_seconds = 1 if options.rush_only else options.seconds
        for target, wrk_headers in ((ceiling_url, {}), (base + "/agenda", headers), (cold_url, headers)):
            run_wrk(target, 1, options.connections, wrk_headers)  # warm up
        # Rounds, one route after the other: each ratio is taken against the
        # ceiling measured a few seconds before, and the median of the rounds
        # is kept, as the machine's speed drifts from one minute to the next.
        print(f"{'round':<6} {'route':<30} {'req/s':>8} {'p50':>9} {'p99':>9} {'non-2xx':>8} {'ratio':>6}")
        rounds = []
        for number in range(options.rounds):
            ceiling = run_wrk(ceiling_url, wrk_seconds, options.connections, {})
            measures = {"ceiling": ceiling,
                        "agenda": run_wrk(base + "/agenda", wrk_seconds, options.connections, headers),
                        "agenda_uncached": run_wrk(cold_url, wrk_seconds, options.connections, headers),
                        "book": run_wrk_script(base + "/agenda", scripts[number], wrk_seconds, options.connections)}
            # Every click of the measure books a cell of its own: as many new places as clicks answered
            # (wrk may leave a few requests unanswered when it stops).
            measures["book"]["booked"] = bookings_of(url, script_children[number])
            for name, label in (("ceiling", "constant string (ceiling)"), ("agenda", "GET /agenda (2 children)"),
                                ("agenda_uncached", "GET /agenda, never kept"),
                                ("book", "POST click-to-book (htmx)")):
                result = measures[name]
                result["ratio"] = result["rps"] / ceiling["rps"]
                print(f"{number + 1:<6} {label:<30} {result['rps']:>8.0f} {result['p50']:>9} {result['p99']:>9} "
                      f"{result['non2xx']:>8} {result['ratio']:>6.2f}")
            book = measures["book"]
            print(f"{'':<6} clicks answered: {book['requests']}, places booked: {book['booked']}")
            if book["booked"] < book["requests"] * 0.99:
                print(f"{'':<6} WARNING: fewer places than clicks answered: clicks were refused (non-2xx) or ran "
                      f"out of cells of their own ({cells[number]} cells); more cells: raise WRK_PARENTS in "
                      "bench/agenda.py, keeping all rounds' children under a slot's capacity")
            rounds.append(measures)

        def median_of(name: str, key: str) -> float:
            return statistics.median(ms(r[name][key]) if key in ("p50", "p99") else r[name][key] for r in rounds)

        for name in ("ceiling", "agenda", "agenda_uncached", "book"):
            print(f"median of {len(rounds)} rounds: {name:<16} {median_of(name, 'rps'):>8.0f} req/s, "
                  f"ratio {median_of(name, 'ratio'):.2f}, p99 {median_of(name, 'p99'):.0f} ms")
        stop(servers.pop(0))  # the ceiling's server is done

        # Sizes: the agenda's first load (page, CSS, scripts, gzip) and a booking fragment.
        gz = {"Accept-Encoding": "gzip"}
        _s, page_gz = measured.request("/agenda", headers=gz)
        assets = re.findall(rb'(?:href|src)="(/static/[^"]+\.(?:css|js)[^"]*)"', page)
        asset_bytes = served_bytes = 0
        for asset in assets:
            _s, body = measured.request(asset.decode().replace("&amp;", "&"), headers=gz)
            served_bytes += len(body)
            # Static files leave the app uncompressed; the front web server gzips them.
            asset_bytes += len(body) if body[:2] == b"\x1f\x8b" else len(gzip.compress(body))
        days = town["days"]
        household = town["accounts"][0][1]
        status, fragment = measured.book(town["children"][household][0], days[5], town["activities"][household][1])
        results.update({
            "agenda_page_bytes": len(page), "agenda_page_bytes_gz": len(page_gz),
            "agenda_first_load_bytes_gz": len(page_gz) + asset_bytes, "book_fragment_bytes": len(fragment),
            "agenda_first_load_bytes_as_served": len(page_gz) + served_bytes,
        })
        print(f"agenda page: {len(page)} bytes, {len(page_gz)} gzipped by the app; first load with CSS and "
              f"scripts: {results['agenda_first_load_bytes_gz']} bytes gzipped "
              f"({results['agenda_first_load_bytes_as_served']} as the app serves them, static files uncompressed)")
        print(f"booking fragment: {len(fragment)} bytes (HTTP {status})")

        # The opening rush.
        latencies: list[float] = []
        outcomes = {"booked": 0, "refused": 0, "errors": 0}
        error_kinds: dict[str, int] = {}
        lock = threading.Lock()
        rush_accounts = town["accounts"][2 + town["wrk_parents"]:]
        rush_days = days[:10]

        def parent(index: int) -> None:
            email, household = rush_accounts[index]
            client = Client(base)
            child = town["children"][household][0]
            activity = town["activities"][household][1]
            steps = [("sign_in", lambda: client.sign_in(email)), ("agenda", client.agenda)]
            steps += [("book", lambda d=d: client.book(child, d, activity)) for d in rush_days]
            for name, step in steps:
                t0 = time.perf_counter()
                try:
                    result = step()
                    kind = "ok"
                    why = ""
                    if name == "book":
                        status, body = result
                        if status == 200:
                            kind = "booked"
                        elif status == 422 and b"Complet" in body:
                            kind = "refused"
                        else:
                            kind, why = "errors", f"{name}: HTTP {status}"
                except Exception as error:  # noqa: BLE001 - counted, the rush goes on
                    kind, why = "errors", f"{name}: {type(error).__name__} {error}"[:120]
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if kind != "ok":
                        outcomes[kind] += 1
                    if why:
                        error_kinds[why] = error_kinds.get(why, 0) + 1
                if kind == "errors" and name != "book":
                    return

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=options.rush_threads) as pool:
            list(pool.map(parent, range(len(rush_accounts))))
        rush_seconds = time.perf_counter() - started
        over, mismatched = check_counters(url)
        results.update({
            "rush_parents": len(rush_accounts), "rush_seconds": round(rush_seconds, 1),
            "rush_p99_ms": round(percentile(latencies, 99), 1), "rush_p50_ms": round(percentile(latencies, 50), 1),
            "rush_errors": outcomes["errors"], "rush_booked": outcomes["booked"], "rush_full": outcomes["refused"],
            "overbooked_slots": over, "counter_mismatches": mismatched,
        })
        print(f"opening rush: {len(rush_accounts)} parents × (sign-in, agenda, 10 bookings) in {rush_seconds:.1f} s, "
              f"p50 {results['rush_p50_ms']} ms, p99 {results['rush_p99_ms']} ms; {outcomes['booked']} booked, "
              f"{outcomes['refused']} « Complet », {outcomes['errors']} errors")
        for why, count in sorted(error_kinds.items(), key=lambda item: -item[1])[:5]:
            print(f"  error: {why} × {count}")
        print(f"overbooked slots: {over}; slots whose counter differs from their bookings: {mismatched}")
        print(f"SQL queries per agenda page: {results['queries_per_agenda']} (two children), "
              f"{results['queries_per_agenda_one_child']} (one child); one agenda page in-process "
              f"(no HTTP, median of 30): {results['agenda_ms_in_process']} ms kept, "
              f"{results['agenda_ms_in_process_uncached']} ms worked out again")
        print(f"Saisie groupée of a school year (2 activities, {results['bulk_year_bookings']} bookings): "
              f"« Créer » {results['bulk_year_seconds']} s, after its preview "
              f"{results['bulk_year_preview_seconds']} s (the process's first)")
        results.update({
            "rounds": len(rounds),
            "ceiling_rps": round(median_of("ceiling", "rps")), "agenda_rps": round(median_of("agenda", "rps")),
            "book_rps": round(median_of("book", "rps")), "agenda_uncached_rps": round(median_of("agenda_uncached", "rps")),
            "agenda_uncached_ratio": round(median_of("agenda_uncached", "ratio"), 3),
            "agenda_uncached_p99_ms": median_of("agenda_uncached", "p99"), "agenda_p50_ms": median_of("agenda", "p50"),
            "agenda_p99_ms": median_of("agenda", "p99"), "book_p50_ms": median_of("book", "p50"),
            "book_p99_ms": median_of("book", "p99"), "agenda_ratio": round(median_of("agenda", "ratio"), 3),
            "book_ratio": round(median_of("book", "ratio"), 3),
            "agenda_non2xx": sum(r["agenda"]["non2xx"] for r in rounds),
            "book_non2xx": sum(r["book"]["non2xx"] for r in rounds),
            "book_clicks": sum(r["book"]["requests"] for r in rounds),
            "book_places_booked": sum(r["book"]["booked"] for r in rounds),
            "per_round": [{name: {"rps": round(m["rps"]), "ratio": round(m["ratio"], 3), "p99_ms": ms(m["p99"])}
                           for name, m in r.items()} for r in rounds],
        })
    finally:
        for server in servers:
            stop(server)
        shutil.rmtree(instance, ignore_errors=True)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "latest.json"), "w") as fh:
        json.dump(results, fh, indent=2, sort_keys=True)
    print("figures written to bench/results/latest.json")


if __name__ == "__main__":
    main()
