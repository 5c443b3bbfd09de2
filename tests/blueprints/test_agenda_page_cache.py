"""The month agenda page is kept rendered in the
process (``citoyen.fragment_cache``) and served again only while what it
shows reads the same: through HTTP, with the real app and its real cache,
every change a family or the town hall makes, and the clock itself, must
show on the next load. What is served carries the CSRF token of the session
it is served to."""

from __future__ import annotations

import re
from datetime import datetime
from datetime import time
from datetime import timedelta
from html import unescape

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from citoyen.fragment_cache import FragmentCache
from citoyen.models import Booking
from citoyen.models import Slot
from citoyen.models.agenda import ENROLMENT_PENDING
from citoyen.services import activities
from citoyen.services import agenda
from citoyen.services import notifications
from citoyen.services.booking_rules import format_day
from citoyen.services.booking_rules import public_holiday
from citoyen.services.errors import DomainError
from tests import factories
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import at
from tests.agenda_helpers import build_town
from tests.agenda_helpers import enrol
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.conftest import Auth
from tests.conftest import fresh

HX = {"HX-Request": "true"}
TOKEN_VALUE = re.compile(r'name="csrf_token" value="([^"]*)"')
HEADER_TOKEN = re.compile(r'"X-CSRFToken": "([^"]*)"')


class Clock:
    """The portal's clock (``agenda.local_now``), set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def monday():
    """A Monday ahead whose Tuesday, Thursday and next Monday are in its month, none a public holiday."""
    day = next_weekday(0)
    while any(public_holiday(day + timedelta(days=n)) or (day + timedelta(days=n)).month != day.month
              for n in (1, 3, 7)):
        day = next_weekday(0, after=day, weeks=1)
    return day


@pytest.fixture
def clock(monkeypatch, monday):
    """A Monday morning, a week before ``monday``: every canteen day of
    ``monday``'s week can still be booked and cancelled."""
    frozen = Clock(at(monday - timedelta(days=7)))
    monkeypatch.setattr(agenda, "local_now", frozen)
    return frozen


@pytest.fixture
def others(db, town):
    """Another family of the town, with its own account, enrolled at the canteen."""
    account = factories.account(db, email="benali@example.org", first_name="Karim", last_name="Benali")
    family = household(db, town.organisation, name="Benali", children=("Yasmine", "Adam", "Sofia", "Nour"),
                       account=account)
    for child in family.children:
        enrol(db, child, town.canteen)
    return account, list(family.children)


def month_url(day, child=None) -> str:
    return f"/agenda?enfant={child.id if child else 'tous'}&mois={day:%Y-%m}"


def cell_id(child, act, day) -> str:
    return f"c{child.id}-a{act.id}-{day:%Y%m%d}"


def body_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def grid_in(body: str) -> str:
    """The ``<table class="agenda">`` of a month page."""
    found = re.search(r'<table class="agenda".*?</table>', body, re.S)
    assert found, "no agenda grid in the page"
    return found.group(0)


def grid_of(response) -> str:
    return grid_in(body_of(response))


def tokens_in(html: str) -> set[str]:
    return set(TOKEN_VALUE.findall(html)) | set(HEADER_TOKEN.findall(html))


def without_tokens(html: str) -> str:
    """The page or grid with its CSRF tokens (one per session) blanked."""
    for token in tokens_in(html):
        if token:
            html = html.replace(token, "")
    return html


def cells(grid: str) -> dict[str, tuple[str, str]]:
    """Each cell of a grid: its id → (state class, its words)."""
    found = {}
    for match in re.finditer(r'<li id="([^"]+)" class="slot slot-([a-z_]+)">(.*?)</li>', grid, re.S):
        words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", unescape(match.group(3)))).strip()
        found[match.group(1)] = (match.group(2), words)
    return found


def words_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(html))).strip()


def today_cell(grid: str) -> str:
    """The label of the day marked as today (« mardi 8 décembre 2026 »…)."""
    marked = re.findall(r'<td class="today" aria-current="date">\s*<h3 class="day-number">'
                        r'<span class="visually-hidden">([^<]+)</span>', grid)
    assert len(marked) <= 1, marked
    return marked[0] if marked else ""


def form_of(grid: str, cell: str) -> tuple[str, str]:
    """The action and the CSRF token of a cell's form."""
    block = re.search(rf'<li id="{cell}".*?</li>', grid, re.S).group(0)
    action = unescape(re.search(r'<form method="post" action="([^"]+)"', block).group(1))
    return action, TOKEN_VALUE.search(block).group(1)


def cache_name(app) -> str | None:
    """Where the app keeps its month pages (created on first use)."""
    names = [name for name, value in app.extensions.items() if isinstance(value, FragmentCache)]
    assert len(names) <= 1, names
    return names[0] if names else None


def kept(app) -> FragmentCache:
    name = cache_name(app)
    assert name, "no FragmentCache in app.extensions"
    return app.extensions[name]


def counters(app) -> tuple[int, int]:
    name = cache_name(app)
    return (app.extensions[name].hits, app.extensions[name].misses) if name else (0, 0)


class Loader:
    """Loads a month page and checks how the cache answered: « hit »,
    « miss », or « fresh » (anything but a hit: a page that shows a flashed
    message may be rendered without asking the cache at all)."""

    def __init__(self, app, client) -> None:
        self.app = app
        self.client = client

    def __call__(self, url: str, expect: str, client=None) -> str:
        before = counters(self.app)
        body = body_of((client or self.client).get(url))
        after = counters(self.app)
        hits, misses = after[0] - before[0], after[1] - before[1]
        outcome = {(1, 0): "hit", (0, 1): "miss", (0, 0): "untouched"}.get((hits, misses), f"{before} → {after}")
        if expect == "fresh":
            assert hits == 0, f"{url}: served from the cache, expected a fresh page ({before} → {after})"
        else:
            assert outcome == expect, f"{url}: expected a {expect}, got {outcome}"
        return body


@pytest.fixture
def load(app, client):
    return Loader(app, client)


def fresh_page(app, client, url: str) -> str:
    """The page as rendered with nothing kept (the kept pages stay as they are)."""
    name = cache_name(app)
    assert name
    keep = app.extensions[name]
    app.extensions[name] = FragmentCache(0)
    try:
        return body_of(client.get(url))
    finally:
        app.extensions[name] = keep


# ---------------------------------------------------------------- served again, with the session's token

def test_a_second_load_is_a_hit_and_shows_the_same_cells(app, client, auth, town, monday, clock, load):
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    first = load(url, "miss")
    second = load(url, "hit")
    assert counters(app) == (1, 1)
    assert without_tokens(grid_in(second)) == without_tokens(grid_in(first))
    assert without_tokens(second) == without_tokens(first)
    shown = cells(second)
    assert shown[cell_id(town.leo, town.canteen, monday)][0] == "bookable"
    assert "Non réservé" in shown[cell_id(town.ines, town.canteen, monday)][1]
    assert shown[cell_id(town.leo, town.morning, monday)][0] == "bookable"
    assert cell_id(town.ines, town.morning, monday) not in shown
    assert "\x00" not in second
    # Another month, one child shown: other keys.
    load(month_url(monday + timedelta(days=31)), "miss")
    load(month_url(monday, town.leo), "miss")
    only_leo = load(month_url(monday, town.leo), "hit")
    assert cell_id(town.ines, town.canteen, monday) not in cells(only_leo)
    assert len(kept(app)._entries) == 3


def test_the_kept_page_carries_the_token_of_the_session_it_is_served_to(app, client, auth, town, monday,
                                                                        clock, db, load):
    url = month_url(monday)
    auth.sign_in(town.parent.email)
    other = app.test_client()  # the same account, in another browser
    assert Auth(other).sign_in(town.parent.email).status_code == 303
    app.config["WTF_CSRF_ENABLED"] = True
    first = load(url, "miss")
    served = load(url, "hit", client=other)
    assert without_tokens(served) == without_tokens(first)
    theirs, mine = tokens_in(served), tokens_in(first)
    assert len(theirs) == 1 and "" not in theirs and not theirs & mine
    assert "\x00" not in served
    cell = cell_id(town.leo, town.canteen, monday)
    # The first browser's token is refused in the second one: the check is real.
    action, first_token = form_of(grid_in(first), cell)
    assert other.post(action, data={"csrf_token": first_token}).status_code == 400
    # Without JavaScript, the form of the page served from the cache posts.
    action, token = form_of(grid_in(served), cell)
    assert token in theirs
    assert action == (f"/agenda/{town.leo.id}/{monday}/{town.canteen.id}/reservation"
                      f"?enfant=tous&mois={monday:%Y-%m}")
    assert other.post(action, data={"csrf_token": token}).status_code == 303
    # With htmx, the page's token goes in the X-CSRFToken header (read from a hit of the first browser).
    load(url, "miss")
    page = load(url, "hit")
    assert cells(page)[cell][0] == "booked"
    (header_token,) = HEADER_TOKEN.findall(page)
    action, token = form_of(grid_in(page), cell_id(town.ines, town.canteen, monday))
    assert token == header_token
    assert client.post(action, headers=HX).status_code == 400
    response = client.post(action, headers={**HX, "X-CSRFToken": header_token})
    assert response.status_code == 200 and "Réservé" in response.get_data(as_text=True)
    fresh(db)
    assert sorted(b.child_id for b in db.scalars(select(Booking).where(Booking.status == "booked"))) == sorted(
        [town.leo.id, town.ines.id])


def test_a_session_signs_its_token_once_and_a_new_session_gets_a_new_one(app, client, auth, town, monday,
                                                                         clock, load):
    url = month_url(monday)
    auth.sign_in(town.parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    first = load(url, "miss")
    (token,) = tokens_in(first)
    with client.session_transaction() as cookie_session:
        assert cookie_session["csrf_signed"] == [cookie_session["csrf_token"], token]
    for _ in range(2):
        assert tokens_in(load(url, "hit")) == {token}
    action, in_form = form_of(grid_in(first), cell_id(town.leo, town.canteen, monday))
    assert in_form == token
    assert client.post(action, data={"csrf_token": token}).status_code == 303
    # Signed out and in again: a new secret, so a new token; the old one is refused.
    app.config["WTF_CSRF_ENABLED"] = False
    assert auth.sign_out().status_code == 303
    auth.sign_in(town.parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    (renewed,) = tokens_in(load(url, "miss"))  # the page changed: « Réservé »
    assert renewed != token
    assert client.post(action.replace("reservation", "annulation"), data={"csrf_token": token}).status_code == 400
    assert client.post(action.replace("reservation", "annulation"),
                       data={"csrf_token": renewed}).status_code == 303


def test_the_session_token_is_recognised_and_any_other_token_checked_by_flask_wtf(app, client, auth, town,
                                                                                 monday, clock, load):
    url = month_url(monday)
    auth.sign_in(town.parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    (token,) = tokens_in(load(url, "miss"))
    action, _ = form_of(grid_in(load(url, "hit")), cell_id(town.leo, town.canteen, monday))
    # A token Flask-WTF signed for another page of the same session, a minute
    # earlier (another string), is still good.

    class MinuteEarlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - 60

    with client.session_transaction() as cookie_session:
        secret = cookie_session["csrf_token"]
    signed_elsewhere = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token",
                                              signer=MinuteEarlier).dumps(secret)
    assert signed_elsewhere != token
    assert client.post(action, headers={**HX, "X-CSRFToken": signed_elsewhere}).status_code == 200
    cancel = action.replace("reservation", "annulation")
    for bad in ("", token[:-2] + "xx", token + "x", signed_elsewhere[:-2] + "xx"):
        assert client.post(cancel, headers={**HX, "X-CSRFToken": bad}).status_code == 400
        assert client.post(cancel, data={"csrf_token": bad}).status_code == 400
    # Kept beside another secret than the session's own, the token is worth nothing.
    with client.session_transaction() as cookie_session:
        kept_secret = cookie_session["csrf_token"]
        cookie_session["csrf_token"] = "0" * len(kept_secret)
    assert client.post(cancel, headers={**HX, "X-CSRFToken": token}).status_code == 400
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_token"] = kept_secret
    # With a time limit, a token kept in the cookie is checked by Flask-WTF: one
    # signed a minute ago is too old for a limit of 30 s.
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_signed"] = [kept_secret, signed_elsewhere]
    app.config["WTF_CSRF_TIME_LIMIT"] = 30
    assert client.post(cancel, headers={**HX, "X-CSRFToken": signed_elsewhere}).status_code == 400
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    assert client.post(cancel, headers={**HX, "X-CSRFToken": signed_elsewhere}).status_code == 200
    assert client.post(action, headers={**HX, "X-CSRFToken": signed_elsewhere}).status_code == 200
    with client.session_transaction() as cookie_session:
        cookie_session["csrf_signed"] = [kept_secret, token]
    # A wrong token in the form does not hide the right one in the header, nor the reverse.
    assert client.post(cancel, data={"csrf_token": "x"}, headers={**HX, "X-CSRFToken": token}).status_code == 200
    assert client.post(action, data={"csrf_token": token}, headers={**HX, "X-CSRFToken": "x"}).status_code == 200


def test_on_https_the_session_token_needs_a_referrer_of_this_host(app, client, auth, town, monday, clock,
                                                                   load):
    auth.sign_in(town.parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    (token,) = tokens_in(load(month_url(monday), "miss"))
    action, _ = form_of(grid_in(load(month_url(monday), "hit")), cell_id(town.leo, town.canteen, monday))
    https = {"base_url": "https://localhost", "headers": {**HX, "X-CSRFToken": token}}
    assert client.post(action, **https).status_code == 400  # no referrer
    https["headers"]["Referer"] = "https://ailleurs.example/agenda"
    assert client.post(action, **https).status_code == 400
    https["headers"]["Referer"] = "http://localhost/agenda"  # not the same scheme
    assert client.post(action, **https).status_code == 400
    https["headers"]["Referer"] = "https://localhost/agenda"
    assert client.post(action, **https).status_code == 200


def test_with_a_time_limit_a_served_page_gets_a_token_signed_for_it(app, client, auth, town, monday, clock,
                                                                      load):
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    auth.sign_in(town.parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    (token,) = tokens_in(load(month_url(monday), "miss"))
    with client.session_transaction() as cookie_session:
        assert "csrf_signed" not in cookie_session
    action, _ = form_of(grid_in(load(month_url(monday), "hit")), cell_id(town.leo, town.canteen, monday))
    assert client.post(action, data={"csrf_token": token}).status_code == 303


def test_another_account_never_gets_the_first_parents_page(app, client, auth, town, monday, clock, others,
                                                           load):
    other_parent, _children = others
    url = month_url(monday)
    auth.sign_in(town.parent.email)
    load(url, "miss")
    mine = load(url, "hit")
    assert "Léo" in mine and "Inès" in mine and "Yasmine" not in mine
    other = app.test_client()
    assert Auth(other).sign_in(other_parent.email).status_code == 303
    theirs = load(url, "miss", client=other)
    assert "Yasmine" in grid_in(theirs) and "Adam" in grid_in(theirs)
    assert "Léo" not in theirs and "Inès" not in theirs and "Camille Martin" not in theirs
    theirs = load(url, "hit", client=other)
    assert "Léo" not in theirs and "Yasmine" in theirs
    # The same browser, one account after the other.
    auth.sign_out()
    client.get("/connexion")  # shows « Vous êtes déconnecté. »
    auth.sign_in(other_parent.email)
    theirs = load(url, "hit")
    assert "Yasmine" in theirs and "Léo" not in theirs and "Karim Benali" in theirs
    auth.sign_out()
    client.get("/connexion")
    auth.sign_in(town.parent.email)
    mine = load(url, "hit")
    assert "Léo" in mine and "Yasmine" not in mine
    assert len(kept(app)._entries) == 2


@pytest.mark.parametrize("app_config", [{"AGENDA_CACHE_SIZE": 0}])
def test_size_zero_is_never_a_hit(app, client, auth, town, monday, clock):
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    shown = [without_tokens(body_of(client.get(url))) for _ in range(3)]
    assert shown[0] == shown[1] == shown[2]
    assert "Non réservé" in shown[0]
    assert kept(app).hits == 0
    assert len(kept(app)._entries) == 0


# ---------------------------------------------------------------- never stale

def test_a_day_booked_by_the_click_shows_at_once(client, auth, town, monday, clock, load):
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    load(url, "miss")
    page = load(url, "hit")
    cell = cell_id(town.leo, town.canteen, monday)
    assert cells(page)[cell][0] == "bookable"
    action, token = form_of(grid_in(page), cell)
    response = client.post(action, data={"csrf_token": token})
    assert response.status_code == 303
    page = load(response.headers["Location"], "fresh")
    assert "La réservation est enregistrée." in words_of(page)
    state, words = cells(page)[cell]
    assert state == "booked" and "Réservé" in words and "Annuler" in words
    assert cells(page)[cell_id(town.ines, town.canteen, monday)][0] == "bookable"
    # Cancelled with htmx (no message flashed): the next load is a miss that says it.
    action, _token = form_of(grid_in(page), cell)
    assert action.split("?")[0].endswith("/annulation")
    assert client.post(action, headers=HX).status_code == 200
    state, words = cells(load(url, "miss"))[cell]
    assert state == "bookable" and "Non réservé" in words
    # Booked again with htmx.
    assert client.post(action.replace("annulation", "reservation"), headers=HX).status_code == 200
    assert cells(load(url, "miss"))[cell][0] == "booked"
    assert cells(load(url, "hit"))[cell][0] == "booked"


def test_another_family_taking_the_last_place_shows_complet(db, client, auth, town, monday, clock, others,
                                                            load):
    other_parent, their_children = others
    activities.set_day_capacity(db, town.agent, town.canteen.id, monday, 1, True, BASE_URL)
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    load(url, "miss")
    cell = cell_id(town.leo, town.canteen, monday)
    assert cells(load(url, "hit"))[cell][0] == "bookable"
    agenda.book(db, other_parent, their_children[0].id, town.canteen.id, monday)
    shown = cells(load(url, "miss"))
    state, words = shown[cell]
    assert state == "full" and "Complet" in words and "Liste d'attente" in words
    assert shown[cell_id(town.ines, town.canteen, monday)][0] == "full"
    assert shown[cell_id(town.leo, town.canteen, monday + timedelta(days=1))][0] == "bookable"
    assert cells(load(url, "hit"))[cell][0] == "full"
    # The place freed again: bookable again.
    agenda.cancel(db, other_parent, their_children[0].id, town.canteen.id, monday, BASE_URL)
    assert cells(load(url, "miss"))[cell][0] == "bookable"


def test_the_place_in_the_waiting_list_moves(db, client, auth, town, monday, clock, others, load):
    """Only the place in line changes when someone ahead leaves: the family's own rows stay the same."""
    other_parent, (first, second, *_rest) = others
    activities.set_day_capacity(db, town.agent, town.canteen.id, monday, 1, True, BASE_URL)
    agenda.book(db, other_parent, first.id, town.canteen.id, monday)
    agenda.join_waiting_list(db, other_parent, second.id, town.canteen.id, monday)
    auth.sign_in(town.parent.email)
    url = month_url(monday, town.leo)
    cell = cell_id(town.leo, town.canteen, monday)
    action = f"/agenda/{town.leo.id}/{monday}/{town.canteen.id}/attente?enfant={town.leo.id}&mois={monday:%Y-%m}"
    response = client.post(action, headers=HX)
    assert response.status_code == 200
    assert "Liste d'attente (2e)" in cells(response.get_data(as_text=True))[cell][1]
    state, words = cells(load(url, "miss"))[cell]
    assert state == "waiting" and "Liste d'attente (2e)" in words
    assert "Liste d'attente (2e)" in cells(load(url, "hit"))[cell][1]
    agenda.cancel(db, other_parent, second.id, town.canteen.id, monday, BASE_URL)
    state, words = cells(load(url, "miss"))[cell]
    assert state == "waiting" and "Liste d'attente (1e)" in words
    # The place freed goes to the first in line.
    agenda.cancel(db, other_parent, first.id, town.canteen.id, monday, BASE_URL)
    state, words = cells(load(url, "miss"))[cell]
    assert state == "booked" and "Réservé" in words


def test_a_closure_added_by_an_agent_shows_ferme(db, client, auth, town, monday, clock, load):
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    load(url, "miss")
    tuesday = monday + timedelta(days=1)
    assert cells(load(url, "hit"))[cell_id(town.leo, town.canteen, tuesday)][0] == "bookable"
    activities.add_closure(db, town.agent, town.organisation, tuesday, tuesday, "Grève des agents")
    shown = cells(load(url, "miss"))
    for act in (town.canteen, town.morning):
        state, words = shown[cell_id(town.leo, act, tuesday)]
        assert state == "closed" and "Fermé : Grève des agents" in words
    assert shown[cell_id(town.leo, town.canteen, monday)][0] == "bookable"
    # Closed for the canteen only, another day.
    thursday = monday + timedelta(days=3)
    activities.add_closure(db, town.agent, town.organisation, thursday, thursday, "Cuisine en travaux",
                           activity_id=town.canteen.id)
    shown = cells(load(url, "miss"))
    assert shown[cell_id(town.ines, town.canteen, thursday)][0] == "closed"
    assert shown[cell_id(town.leo, town.morning, thursday)][0] == "bookable"


@pytest.mark.parametrize("accept", [True, False], ids=["validated", "refused"])
def test_an_enrolment_decided_by_the_town_hall_shows(db, client, auth, town, monday, clock, load, accept):
    study = activity(db, town.organisation, town.site, name="Étude surveillée", needs_validation=True,
                     start_time=time(16, 30), end_time=time(18, 0))
    enrolment = enrol(db, town.ines, study, status=ENROLMENT_PENDING)
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    load(url, "miss")
    page = load(url, "hit")
    cell = cell_id(town.ines, study, monday)
    state, words = cells(page)[cell]
    assert state == "enrolment_waiting" and "En attente" in words
    assert "l'inscription d'Inès à Étude surveillée est en attente de validation" in words_of(page)
    assert 'class="badge"' not in page
    agenda.decide_enrolment(db, town.agent, enrolment.id, accept, "" if accept else "Plus de place", BASE_URL)
    page = load(url, "miss")
    said = words_of(page)
    if accept:
        state, words = cells(page)[cell]
        assert state == "bookable" and "Non réservé" in words and "Réserver" in words
    else:
        assert cell not in cells(page) and "Étude surveillée" not in grid_in(page)
        assert "L'inscription d'Inès à Étude surveillée a été refusée : Plus de place." in said
    assert "est en attente de validation" not in said
    # The town hall's message is counted in the menu.
    assert re.search(r'<span class="badge">1<span class="visually-hidden"> non lu</span>', page)
    load(url, "hit")


def test_an_absence_declared_shows(db, client, auth, town, monday, clock, load):
    sunday = monday - timedelta(days=1)
    for child in (town.leo, town.ines):
        agenda.book(db, town.parent, child.id, town.canteen.id, monday, now=at(sunday - timedelta(days=2)))
    clock.now = at(sunday, 14)  # past the cancellation deadline (Sunday 12:00)
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    load(url, "miss")
    leo, ines = cell_id(town.leo, town.canteen, monday), cell_id(town.ines, town.canteen, monday)
    state, words = cells(load(url, "hit"))[leo]
    assert state == "booked" and "Annulation possible jusqu'au" in words and "Annuler" not in words
    # Declared by the service (nothing flashed): a miss.
    agenda.declare_absence(db, town.parent, town.leo.id, monday, monday, "illness", "", BASE_URL)
    shown = cells(load(url, "miss"))
    assert shown[leo][0] == "absent" and "Absence déclarée : Maladie" in shown[leo][1]
    assert shown[ines][0] == "booked"
    load(url, "hit")
    # Declared through the form: the month it goes back to says it.
    day = monday.strftime("%d/%m/%Y")
    response = client.post("/agenda/absence", data={"child": town.ines.id, "start_date": day, "end_date": day,
                                                     "motive": "family", "comment": ""})
    assert response.status_code == 303
    page = load(response.headers["Location"], "fresh")
    assert "L'absence est enregistrée. 1 réservation annulée." in words_of(page)
    state, words = cells(page)[ines]
    assert state == "absent" and "Absence déclarée : Raison familiale" in words
    state, words = cells(load(url, "fresh"))[ines]
    assert state == "absent"


def test_the_clock_passing_a_booking_deadline_shows_delai_depasse(client, auth, town, monday, clock, load):
    limit = agenda.book_rule(town.canteen).limit(monday, town.canteen.start_time)
    assert limit == datetime.combine(monday - timedelta(days=1), time(12, 0))
    clock.now = limit - timedelta(hours=2)
    auth.sign_in(town.parent.email)
    url = month_url(monday)
    load(url, "miss")
    cell = cell_id(town.leo, town.canteen, monday)
    clock.now = limit - timedelta(minutes=1)
    assert cells(load(url, "hit"))[cell][0] == "bookable"
    clock.now = limit + timedelta(minutes=1)
    state, words = cells(load(url, "miss"))[cell]
    assert state == "late" and "Délai dépassé" in words and "Réserver" not in words
    # Tuesday's deadline is Monday noon: still bookable, and kept until then.
    clock.now = limit + timedelta(hours=3)
    assert cells(load(url, "hit"))[cell_id(town.leo, town.canteen, monday + timedelta(days=1))][0] == "bookable"


def test_the_clock_passing_a_cancellation_deadline_hides_annuler(db, client, auth, town, monday, clock, load):
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, monday)
    limit = agenda.cancel_rule(town.canteen).limit(monday, town.canteen.start_time)
    clock.now = limit - timedelta(seconds=30)
    auth.sign_in(town.parent.email)
    url = month_url(monday, town.leo)
    cell = cell_id(town.leo, town.canteen, monday)
    state, words = cells(load(url, "miss"))[cell]
    assert state == "booked" and "Annuler" in words
    clock.now = limit + timedelta(seconds=30)
    state, words = cells(load(url, "miss"))[cell]
    assert state == "booked" and "Annuler" not in words and "Annulation possible jusqu'au" in words


def test_at_midnight_today_moves(client, auth, town, clock, load):
    day = next_weekday(1)
    while any(public_holiday(day + timedelta(days=n)) or (day + timedelta(days=n)).month != day.month
              for n in (1, 2)):
        day = next_weekday(1, after=day, weeks=1)
    clock.now = datetime.combine(day, time(23, 59))
    auth.sign_in(town.parent.email)
    url = month_url(day)
    load(url, "miss")
    assert today_cell(load(url, "hit")) == format_day(day)
    clock.now = datetime.combine(day + timedelta(days=1), time(0, 0, 1))
    page = load(url, "miss")
    assert today_cell(page) == format_day(day + timedelta(days=1))
    assert page.count('class="today"') == 1
    assert cells(load(url, "hit"))[cell_id(town.leo, town.canteen, day + timedelta(days=2))][0] == "bookable"


def test_what_the_page_shows_around_the_grid_is_never_stale(db, client, auth, town, monday, clock, load):
    """The week's counts, the enrolments, the name and the messages of the
    header: whatever is kept, the page shows them as they are."""
    auth.sign_in(town.parent.email)
    url = month_url(monday, town.leo)

    def page_after(change) -> str:
        client.get(url)
        load(url, "hit")
        change()
        return words_of(body_of(client.get(url)))

    def book_this_week():
        day = next(clock.now.date() + timedelta(days=n) for n in (1, 3, 4)
                   if not public_holiday(clock.now.date() + timedelta(days=n)))
        agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)

    client.get(url)
    assert "Léo : aucune réservation" in words_of(load(url, "hit"))
    assert "Léo : 1 réservation" in page_after(book_this_week)

    def rename():
        town.parent.first_name = "Camille-Anne"
        db.commit()

    assert "Camille-Anne Martin" in page_after(rename)

    def message():
        notifications.notify(db, town.parent, "Fermeture", "La cantine ferme.", BASE_URL)
        db.commit()

    assert "Messages 1 non lu" in page_after(message)

    def pending_for_ines():
        study = activity(db, town.organisation, town.site, name="Étude surveillée", needs_validation=True)
        enrol(db, town.ines, study, status=ENROLMENT_PENDING)

    assert "l'inscription d'Inès à Étude surveillée est en attente de validation" in page_after(pending_for_ines)

    def another_town():
        factories.organisation(db, name="Ville d'Autreville", slug="autreville", postcodes="99998")

    assert "Portail famille — Ville de Testville" in words_of(load(url, "hit"))
    said = page_after(another_town)
    assert "Portail famille" in said and "Ville de Testville" not in said


# ---------------------------------------------------------------- any sequence of changes

DAY_OFFSETS = (0, 1, 3, 7)  # Monday, Tuesday and Thursday of ``monday``'s week, and the Monday after

operations = st.one_of(
    st.tuples(st.sampled_from(["book", "cancel", "wait", "other", "closure"]),
              st.integers(0, len(DAY_OFFSETS) - 1)),
    st.tuples(st.just("clock"), st.integers(1, 30)),
    st.tuples(st.just("reload"), st.just(0)),
)
steps_strategy = st.lists(st.tuples(operations, st.booleans()), min_size=1, max_size=8)


def test_after_any_sequence_of_changes_the_kept_page_is_the_fresh_one(app, client, auth, db, town, monday,
                                                                      clock, others):
    other_parent, their_children = others
    auth.sign_in(town.parent.email)
    days = [monday + timedelta(days=n) for n in DAY_OFFSETS]
    start = at(monday - timedelta(days=2))  # Saturday: the deadlines come one after the other
    numbers = iter(range(1, 100_000))
    totals = {"hits": 0, "loads": 0}
    client.get(month_url(monday))  # the app's cache exists from here on
    name = cache_name(app)

    def click(what: str, day, hx: bool) -> None:
        path = f"/agenda/{town.leo.id}/{day}/{town.canteen.id}/{what}?enfant=tous&mois={monday:%Y-%m}"
        response = client.post(path, headers=HX if hx else None)
        assert response.status_code in ((200, 422) if hx else (303,)), response.status_code
        if not hx:
            client.get(response.headers["Location"])  # the flashed message is shown (and gone)

    def other_family_takes_the_last_place(day) -> None:
        fresh(db)
        holding = set(db.scalars(select(Booking.child_id).where(
            Booking.activity_id == town.canteen.id, Booking.day == day, Booking.status == "booked")))
        free = [c for c in their_children if c.id not in holding]
        if not free:
            return
        booked = db.scalar(select(Slot.booked).where(Slot.activity_id == town.canteen.id, Slot.day == day)) or 0
        try:
            activities.set_day_capacity(db, town.agent, town.canteen.id, day, booked + 1, True, BASE_URL)
            agenda.book(db, other_parent, free[0].id, town.canteen.id, day)
        except DomainError:
            db.rollback()
        fresh(db)

    @settings(max_examples=20, deadline=None, derandomize=True, database=None)
    @given(steps=steps_strategy)
    def run(steps):
        # Each sequence starts again at the same moment, with nothing kept
        # (the clock never goes back while pages are kept).
        clock.now = start
        app.extensions[name] = FragmentCache(app.config["AGENDA_CACHE_SIZE"])
        for (operation, value), hx in steps:
            if operation in ("book", "cancel", "wait"):
                click({"book": "reservation", "cancel": "annulation", "wait": "attente"}[operation],
                      days[value], hx)
            elif operation == "other":
                other_family_takes_the_last_place(days[value])
            elif operation == "closure":
                fresh(db)
                activities.add_closure(db, town.agent, town.organisation, days[value], days[value],
                                       f"Fermeture {next(numbers)}")
            elif operation == "clock":
                clock.now += timedelta(hours=value)
            for url in (month_url(monday, None if hx else town.leo), month_url(monday)):
                cache = app.extensions[name]
                before = cache.hits
                served = body_of(client.get(url))
                totals["hits"] += cache.hits - before
                totals["loads"] += 1
                expected = fresh_page(app, client, url)
                where = f"at {clock.now} after {operation} {value} ({url})"
                assert without_tokens(grid_in(served)) == without_tokens(grid_in(expected)), f"stale grid {where}"
                assert without_tokens(served) == without_tokens(expected), f"stale page {where}"

    run()
    # The property held on pages served from the cache, not only on fresh ones.
    assert totals["hits"] >= totals["loads"] // 5, totals


def test_a_refusal_is_no_longer_said_once_the_child_is_enrolled_again(db, client, auth, town, monday, clock, load):
    study = activity(db, town.organisation, town.site, name="Étude surveillée", needs_validation=True,
                     start_time=time(16, 30), end_time=time(18, 0))
    refused = enrol(db, town.ines, study, status=ENROLMENT_PENDING)
    agenda.decide_enrolment(db, town.agent, refused.id, False, "Plus de place", BASE_URL)
    again = enrol(db, town.ines, study, status=ENROLMENT_PENDING)
    auth.sign_in(town.parent.email)
    said = words_of(load(month_url(monday), "miss"))
    assert "a été refusée" not in said and "l'inscription d'Inès à Étude surveillée est en attente" in said
    agenda.decide_enrolment(db, town.agent, again.id, True, "", BASE_URL)
    said = words_of(load(month_url(monday), "miss"))
    assert "a été refusée" not in said and "est en attente" not in said
