"""The private calendar feed of a child's bookings."""

from __future__ import annotations

from icalendar import Calendar

from citoyen.services import agenda
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import text


def test_the_feed_lists_the_bookings_and_its_address_can_be_renewed(app, client, auth, db):
    town = build_town(db)
    day = next_weekday(0)
    agenda.book(db, town.parent, town.leo.id, town.canteen.id, day)
    auth.sign_in(town.parent.email)
    page_url = f"/foyer/{town.household.id}/enfants/{town.leo.id}"
    assert "adresse du calendrier" in text(client.get(page_url))
    assert client.post(page_url + "/calendrier").status_code == 303
    page = text(client.get(page_url))
    url = page.split('id="calendar-url" readonly value="')[1].split('"')[0]
    path = url.split("http://localhost", 1)[-1]
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    events = [c for c in Calendar.from_ical(response.data).walk("VEVENT")]
    assert len(events) == 1 and str(events[0]["summary"]) == "Restauration scolaire — Léo"
    assert events[0]["dtstart"].dt.date() == day
    zones = [str(z["tzid"]) for z in Calendar.from_ical(response.data).walk("VTIMEZONE")]
    assert zones == ["Europe/Paris"]  # the zone the times are given in is defined in the file
    client.post(page_url + "/calendrier")  # renewed: the old address is gone
    assert anonymous.get(path).status_code == 404
    assert anonymous.get("/calendrier/inconnu.ics").status_code == 404
