"""The family's agenda through HTTP: the month, one click per day, enrolment,
bulk booking, absences, and what another family cannot reach."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from citoyen.models import Absence
from citoyen.models import Booking
from citoyen.models import Enrolment
from citoyen.services import activities
from tests import factories
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import household
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import text
from tests.blueprints.helpers import words
from tests.conftest import fresh


@pytest.fixture
def town(db, parent, agent):
    return build_town(db, parent=parent, agent=agent)


@pytest.fixture
def monday():
    return next_weekday(0)



def book_url(town, day, child=None, act=None, what="reservation"):
    child = child or town.leo
    act = act or town.canteen
    return f"/agenda/{child.id}/{day.isoformat()}/{act.id}/{what}"


def booked(db):
    fresh(db)
    return [(b.child_id, b.activity_id, b.day, b.status) for b in db.scalars(select(Booking))]


def test_month_shows_every_state_in_words(client, auth, town, monday, db):
    activities.add_closure(db, town.agent, town.organisation, monday + timedelta(days=1),
                           monday + timedelta(days=1), "Grève")
    auth.sign_in(town.parent.email)
    response = client.get(f"/agenda?mois={monday:%Y-%m}")
    body = words(response)
    assert response.status_code == 200
    assert "Agenda de" in body and "Tous" in body
    assert "Restauration scolaire" in body and "Accueil matin" in body
    assert "Non réservé" in body and "Réserver" in body
    assert "Fermé : Grève" in body
    assert text(response).count('class="slot ') >= 10


def test_one_click_books_and_only_the_cell_comes_back(client, auth, town, monday, db, hx):
    auth.sign_in(town.parent.email)
    response = client.post(book_url(town, monday) + f"?enfant=tous&mois={monday:%Y-%m}", headers=hx)
    body = text(response)
    assert response.status_code == 200
    assert body.startswith(f'<li id="c{town.leo.id}-a{town.canteen.id}-{monday:%Y%m%d}"')
    assert "Réservé" in body and "Annuler" in body
    assert "<html" not in body
    assert len(response.get_data()) <= 1024
    assert booked(db) == [(town.leo.id, town.canteen.id, monday, "booked")]
    response = client.post(book_url(town, monday, what="annulation"), headers=hx)
    assert "Non réservé" in text(response)
    assert booked(db)[0][3] == "cancelled"
    response = client.post(book_url(town, monday, what="annulation"), headers=hx)
    assert response.status_code == 422
    assert "déjà annulée" in text(response)


def _token_free(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)


@pytest.mark.parametrize("child_param", ["tous", "leo"])
def test_the_clicked_cell_is_the_cell_of_the_month_page(client, auth, town, monday, db, hx, child_param):
    """The fragment of a click is the month page's own cell, byte for byte
    (but for the CSRF token, signed again on every request)."""
    auth.sign_in(town.parent.email)
    child = "tous" if child_param == "tous" else str(town.leo.id)
    query = f"?enfant={child}&mois={monday:%Y-%m}"
    for what in ("reservation", "annulation", "reservation"):
        fragment = text(client.post(book_url(town, monday, what=what) + query, headers=hx))
        cell_id = f"c{town.leo.id}-a{town.canteen.id}-{monday:%Y%m%d}"
        page = text(client.get("/agenda" + query))
        in_page = re.search(rf'<li id="{cell_id}".*?</li>', page, re.S).group(0)
        assert _token_free(fragment).strip() == _token_free(in_page).strip()
        assert 'name="csrf_token" value="' in fragment and 'value=""' not in fragment


def test_the_clicked_cells_token_is_the_month_pages_and_it_posts(app, client, auth, town, monday, db,
                                                                 monkeypatch):
    auth.sign_in(town.parent.email)
    app.config["WTF_CSRF_ENABLED"] = True
    page = text(client.get(f"/agenda?mois={monday:%Y-%m}"))
    (token,) = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
    assert set(re.findall(r'"X-CSRFToken": "([^"]+)"', page)) == {token}
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    # The click comes a while later: a token signed for it would differ from the page's.
    later = int(time.time()) + 1000
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _signer: later)
    fragment = text(client.post(book_url(town, monday), headers=headers))
    (in_cell,) = re.findall(r'name="csrf_token" value="([^"]+)"', fragment)
    assert in_cell == token
    # Without JavaScript, the swapped cell's form posts with it.
    assert client.post(book_url(town, monday, what="annulation"), data={"csrf_token": in_cell}).status_code == 303
    assert booked(db)[0][3] == "cancelled"
    # A click with a forged token is refused before anything else.
    forged = {"HX-Request": "true", "X-CSRFToken": token[:-2] + "xx"}
    assert client.post(book_url(town, monday), headers=forged).status_code == 400
    assert booked(db)[0][3] == "cancelled"


def test_without_javascript_the_same_buttons_return_the_month(client, auth, town, monday, db):
    auth.sign_in(town.parent.email)
    response = client.post(book_url(town, monday) + f"?enfant={town.leo.id}&mois={monday:%Y-%m}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/agenda?enfant={town.leo.id}&mois={monday:%Y-%m}"
    page = text(client.get(response.headers["Location"]))
    assert "La réservation est enregistrée." in page
    assert "Réservé" in page


def test_double_click_books_once(client, auth, town, monday, db, hx):
    auth.sign_in(town.parent.email)
    client.post(book_url(town, monday), headers=hx)
    client.post(book_url(town, monday), headers=hx)
    assert len(booked(db)) == 1


@pytest.mark.parametrize("day", ["1900-01-01", "3000-01-01", "x", "2026-02-30", "20261207", "2026-W50-1",
                                 "２０２６-１２-０７"])
def test_absurd_dates_get_a_french_message(client, auth, town, day, hx, db):
    auth.sign_in(town.parent.email)
    url = f"/agenda/{town.leo.id}/{day}/{town.canteen.id}/reservation"
    response = client.post(url, headers=hx)
    assert response.status_code == 422
    assert "date n'est pas valide" in text(response)
    response = client.post(url, follow_redirects=True)
    assert "date n'est pas valide" in text(response)
    assert booked(db) == []


def test_past_the_deadline_the_cell_says_the_limit(client, auth, town, hx, db):
    auth.sign_in(town.parent.email)
    yesterday = town.canteen  # noqa: F841 - readability
    from citoyen.services.agenda import local_now

    day = local_now().date()
    while day.weekday() not in (0, 1, 3, 4):
        day -= timedelta(days=1)
    response = client.post(book_url(town, day), headers=hx)
    assert response.status_code == 422
    assert "Délai dépassé" in text(response) and "à 12 h 00" in text(response)
    assert booked(db) == []


def test_full_day_offers_the_waiting_list(client, auth, town, monday, hx, db):
    town.canteen.default_capacity = 1
    db.commit()
    auth.sign_in(town.parent.email)
    client.post(book_url(town, monday), headers=hx)
    response = client.post(book_url(town, monday, child=town.ines), headers=hx)
    assert response.status_code == 422
    assert "Complet" in text(response) and "Liste d'attente" in text(response)
    response = client.post(book_url(town, monday, child=town.ines, what="attente"), headers=hx)
    assert "Liste d'attente (1e)" in words(response)


def test_another_familys_child_or_unknown_ids_are_404(client, auth, town, monday, db, hx):
    other_parent = factories.account(db, email="benali@example.org")
    household(db, town.organisation, name="Benali", children=("Yasmine",), account=other_parent)
    auth.sign_in(other_parent.email)
    for what in ("reservation", "annulation", "attente"):
        assert client.post(book_url(town, monday, what=what), headers=hx).status_code == 404
        assert client.post(book_url(town, monday, what=what)).status_code == 404
    assert client.post(f"/agenda/{town.leo.id}/{monday}/999999/reservation").status_code == 404
    assert "Léo" not in text(client.get(f"/agenda?enfant={town.leo.id}"))
    assert booked(db) == []


def test_child_not_enrolled_gets_a_message(client, auth, town, monday, hx, db):
    auth.sign_in(town.parent.email)
    response = client.post(book_url(town, monday, child=town.ines, act=town.morning), headers=hx)
    assert response.status_code == 422
    assert "n'est pas inscrit" in text(response)


def test_enrol_with_validation_waits(client, auth, town, monday, db):
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    auth.sign_in(town.parent.email)
    page = text(client.get("/agenda/inscription"))
    assert "Inscrire à une activité" in page and "Étude" in page
    response = client.post("/agenda/inscription", data={
        "child": town.ines.id, "activity": study.id, "start_date": monday.strftime("%d/%m/%Y"),
        "end_date": (monday + timedelta(days=30)).strftime("%d/%m/%Y")}, follow_redirects=True)
    assert "en attente de validation" in text(response)
    fresh(db)
    assert db.scalar(select(Enrolment).where(Enrolment.activity_id == study.id)).status == "pending"
    response = client.post("/agenda/inscription", data={
        "child": town.ines.id, "activity": study.id, "start_date": "01/01/2026", "end_date": "01/01/2036"})
    assert response.status_code == 422
    assert "année scolaire" in text(response)


def test_an_enrolment_for_days_gone_by_is_refused_at_the_field(client, auth, town, db):
    from citoyen.services.agenda import local_now

    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    auth.sign_in(town.parent.email)
    today = local_now().date()
    start, end = (today - timedelta(days=60)).strftime("%d/%m/%Y"), (today - timedelta(days=59)).strftime("%d/%m/%Y")
    response = client.post("/agenda/inscription", data={
        "child": town.ines.id, "activity": study.id, "start_date": start, "end_date": end})
    assert response.status_code == 422
    page = text(response)
    assert "Cette période est déjà passée" in page and f'value="{end}"' in page
    fresh(db)
    assert db.scalar(select(Enrolment).where(Enrolment.activity_id == study.id)) is None


def test_bulk_preview_then_create(client, auth, town, monday, db):
    auth.sign_in(town.parent.email)
    assert "Saisie groupée" in text(client.get("/agenda/saisie-groupee"))
    data = {"children": [town.leo.id, town.ines.id], "activities": [town.canteen.id],
            "start_date": monday.strftime("%d/%m/%Y"),
            "end_date": (monday + timedelta(days=13)).strftime("%d/%m/%Y"), "weekdays": [0, 3]}
    response = client.post("/agenda/saisie-groupee", data={**data, "action": "preview"})
    body = text(response)
    assert "Aperçu : 8 réservations à créer sur 8 demandées" in body
    assert "value=\"create\" id=\"bulk-create\">Créer</button>" in body and "value=\"delete\"" not in body
    assert booked(db) == []
    response = client.post("/agenda/saisie-groupee", data={**data, "action": "create"})
    assert "Réservations créées : 8" in text(response)
    assert "Résultat : 8 réservations créées sur 8 demandées" in text(response)
    assert len(booked(db)) == 8
    # The preview of « Supprimer » says what it will cancel, and offers only that.
    body = text(client.post("/agenda/saisie-groupee", data={**data, "action": "preview_delete"}))
    assert "Aperçu : 8 réservations à supprimer sur 8 demandées" in body
    assert "value=\"delete\" class=\"danger\" id=\"bulk-delete\">Supprimer</button>" in body and "value=\"create\"" not in body
    assert len(booked(db)) == 8
    response = client.post("/agenda/saisie-groupee", data={**data, "action": "delete"})
    assert "Réservations supprimées : 8" in text(response)
    response = client.post("/agenda/saisie-groupee", data={**data, "end_date": "01/01/2040", "action": "preview"})
    assert response.status_code == 422
    assert "année scolaire" in text(response)


def test_absence_cancels_and_says_how_many(client, auth, town, monday, db, hx):
    auth.sign_in(town.parent.email)
    client.post(book_url(town, monday), headers=hx)
    client.post(book_url(town, monday, act=town.morning), headers=hx)
    assert "Motif de l'absence" in text(client.get("/agenda/absence"))
    day = monday.strftime("%d/%m/%Y")
    response = client.post("/agenda/absence", data={"child": town.leo.id, "start_date": day, "end_date": day,
                                                     "motive": "illness", "comment": "Fièvre"},
                           follow_redirects=True)
    assert "2 réservations annulées" in text(response)
    assert {b[3] for b in booked(db)} == {"cancelled"}
    response = client.post("/agenda/absence", data={"child": town.leo.id, "start_date": day, "end_date": day})
    assert response.status_code == 422


def test_bulk_with_htmx_swaps_only_its_region(client, auth, town, monday, hx):
    auth.sign_in(town.parent.email)
    data = {"children": [town.leo.id], "activities": [town.canteen.id], "start_date": monday.strftime("%d/%m/%Y"),
            "end_date": (monday + timedelta(days=6)).strftime("%d/%m/%Y"), "weekdays": [0], "action": "preview"}
    response = client.post("/agenda/saisie-groupee", data=data, headers=hx)
    body = text(response)
    assert body.lstrip().startswith('<div id="bulk">') and "<html" not in body
    assert "Aperçu : 1 réservation à créer sur 1 demandée" in body
    response = client.post("/agenda/saisie-groupee", data={**data, "end_date": "01/01/2000"}, headers=hx)
    assert response.status_code == 422 and 'class="error-summary"' in text(response)


@pytest.mark.parametrize("path, data", [
    ("/agenda/inscription?enfant=²", None),
    ("/agenda/absence?enfant=²", None),
    ("/agenda/absence", {"child": "9" * 25, "start_date": "01/12/2026", "end_date": "01/12/2026",
                         "motive": "illness"}),
    ("/agenda/saisie-groupee", {"children": ["9" * 25, "²"], "activities": ["1"], "start_date": "01/12/2026",
                                "end_date": "03/12/2026", "weekdays": ["0"], "action": "preview"}),
])
def test_ids_that_are_not_ids_get_a_french_answer(client, auth, town, path, data):
    auth.sign_in(town.parent.email)
    response = client.post(path, data=data) if data else client.get(path)
    assert response.status_code in (200, 422)
    if data:
        assert response.status_code == 422 and 'class="error-summary"' in text(response)


def error_of(response, field_id: str) -> str:
    """The message shown next to a field (or a group of boxes)."""
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', text(response))
    return found.group(1) if found else ""


@pytest.mark.parametrize("activities_sent", ["abc", "999999"])
def test_an_absence_for_an_activity_not_offered_is_refused_and_nothing_changes(
        client, auth, town, monday, db, hx, activities_sent):
    auth.sign_in(town.parent.email)
    client.post(book_url(town, monday), headers=hx)
    day = monday.strftime("%d/%m/%Y")
    response = client.post("/agenda/absence", data={
        "child": town.leo.id, "start_date": day, "end_date": day, "motive": "illness",
        "activities": activities_sent, "comment": "Fièvre"})
    assert response.status_code == 422
    assert error_of(response, "activities") == "Choisissez les activités dans la liste."
    assert "Fièvre" in text(response)  # what was typed stays
    assert booked(db) == [(town.leo.id, town.canteen.id, monday, "booked")]
    fresh(db)
    assert db.scalar(select(Absence)) is None


def test_an_absence_motive_not_offered_and_a_long_comment_get_french_messages(client, auth, town, monday):
    auth.sign_in(town.parent.email)
    day = monday.strftime("%d/%m/%Y")
    data = {"child": town.leo.id, "start_date": day, "end_date": day, "motive": "zzz"}
    response = client.post("/agenda/absence", data=data)
    assert response.status_code == 422
    assert error_of(response, "motive") == "Choisissez le motif de l'absence."
    response = client.post("/agenda/absence", data={**data, "motive": "illness", "comment": "x" * 501})
    assert error_of(response, "comment") == "Les précisions ne doivent pas dépasser 500 caractères."


def test_line_breaks_count_once_as_the_browser_counts_them(client, auth, town, monday, db):
    """« maxlength » counts a line break as one character; the form sends two."""
    auth.sign_in(town.parent.email)
    day = monday.strftime("%d/%m/%Y")
    comment = "ligne\r\n" * 80  # 480 characters in the box, 560 sent
    response = client.post("/agenda/absence", data={
        "child": town.leo.id, "start_date": day, "end_date": day, "motive": "illness", "comment": comment})
    assert response.status_code == 303
    fresh(db)
    assert db.scalar(select(Absence)).comment.split() == ["ligne"] * 80


def test_another_familys_child_is_refused_next_to_the_field(client, auth, town, monday, db):
    other_parent = factories.account(db, email="durand@example.org")
    other = household(db, town.organisation, name="Durand", children=("Zoé",), account=other_parent)
    zoe = other.children[0]
    auth.sign_in(town.parent.email)
    start, end = monday.strftime("%d/%m/%Y"), (monday + timedelta(days=6)).strftime("%d/%m/%Y")
    for children in ([zoe.id], [zoe.id, town.leo.id], [999999]):
        response = client.post("/agenda/saisie-groupee", data={
            "children": children, "activities": [town.canteen.id], "start_date": start, "end_date": end,
            "weekdays": [0], "action": "create"})
        assert response.status_code == 422
        assert error_of(response, "children") == "Choisissez les enfants dans la liste."
        assert "Zoé" not in text(response)
    response = client.post("/agenda/saisie-groupee", data={
        "children": [town.leo.id], "activities": [999999], "start_date": start, "end_date": end,
        "weekdays": [0, 9], "action": "create"})
    assert error_of(response, "activities") == "Choisissez les activités dans la liste."
    assert error_of(response, "weekdays") == "Choisissez les jours de la semaine dans la liste."
    response = client.post("/agenda/inscription", data={
        "child": zoe.id, "activity": town.canteen.id, "start_date": start, "end_date": end})
    assert response.status_code == 422
    assert error_of(response, "child") == "Choisissez un enfant de la liste."
    response = client.post("/agenda/inscription", data={
        "child": town.leo.id, "activity": "abc", "start_date": start, "end_date": end})
    assert error_of(response, "activity") == "Choisissez une activité de la liste."
    assert booked(db) == []


def test_joining_the_waiting_list_of_a_day_with_a_place_says_it_is_booked(client, auth, town, monday, db):
    auth.sign_in(town.parent.email)
    response = client.post(book_url(town, monday, what="attente"), follow_redirects=True)
    notices = re.findall(r'<p class="notice notice-success" role="status">([^<]*)</p>', text(response))
    assert notices == ["La réservation est enregistrée."]
    assert booked(db) == [(town.leo.id, town.canteen.id, monday, "booked")]


@pytest.mark.parametrize("who", ["parent", "agent"])
def test_nothing_is_read_again_after_a_clicks_commit(app, client, auth, town, monday, db, hx, who):
    """The cell that comes back is built from what the click read: after its
    commit, not one statement more (not even the account, which the session
    forgot when the click took the write lock)."""
    from sqlalchemy import event

    from citoyen.db import engine

    auth.sign_in(town.parent.email if who == "parent" else town.agent.email)
    query = f"?enfant=tous&mois={monday:%Y-%m}" + (f"&foyer={town.household.id}" if who == "agent" else "")
    client.get("/agenda" + query)
    seen: list[str] = []

    def statement(_conn, _cursor, sql, *_args):
        seen.append(sql.split()[0].upper())

    def commit(_conn):
        seen.append("COMMIT")

    bound = engine(app)
    event.listen(bound, "before_cursor_execute", statement)
    event.listen(bound, "commit", commit)
    try:
        response = client.post(book_url(town, monday) + query, headers=hx)
    finally:
        event.remove(bound, "before_cursor_execute", statement)
        event.remove(bound, "commit", commit)
    assert response.status_code == 200
    assert "Réservé" in text(response)
    assert "INSERT" in seen and "COMMIT" in seen
    assert seen[seen.index("COMMIT") + 1:] == []
