"""An agent's « Accueil » says what waits for the town hall."""

from __future__ import annotations

from datetime import date
from datetime import timedelta

from citoyen.services import agenda
from citoyen.services import households
from tests.agenda_helpers import BASE_URL
from tests.agenda_helpers import activity
from tests.agenda_helpers import build_town
from tests.agenda_helpers import next_weekday
from tests.blueprints.helpers import text


def test_an_agents_home_lists_what_waits_for_the_town_hall(client, auth, db, parent, agent):
    town = build_town(db, parent=parent, agent=agent)
    auth.sign_in(agent.email)
    assert "Rien ne demande votre attention" in text(client.get("/"))
    study = activity(db, town.organisation, town.site, name="Étude", needs_validation=True)
    start = next_weekday(0)
    agenda.enrol(db, parent, town.leo.id, study.id, start, start + timedelta(days=30), BASE_URL)
    households.add_child(db, parent, town.household, first_name="Zoé", last_name="Martin",
                         birth_date=date(2020, 5, 4))
    page = text(client.get("/"))
    assert "1 inscription à une activité attend votre validation." in page
    assert '<a href="/agent/inscriptions">Voir les inscriptions à valider</a>' in page
    assert "1 demande des familles (dossier, enfant, responsable) attend votre validation." in page
    assert "Rien ne demande votre attention" not in page
    # A family sees none of it.
    client.post("/deconnexion")
    auth.sign_in(parent.email)
    assert "attend votre validation" not in text(client.get("/"))
