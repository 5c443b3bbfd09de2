"""Helpers for view tests."""

import html
import os
import re


def text(response) -> str:
    """The body, with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def words(response) -> str:
    """The text of the body without its tags, its spaces as one."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", text(response)))


def subscribed_family(db, agent, parent, child: bool = True):
    """A household of a new commune, created by an agent, that ``parent`` is
    subscribed to; with a validated child (Léa) unless ``child`` is False.
    Returns the household, or (household, child)."""
    from datetime import date

    from citoyen.services import households
    from citoyen.services.households import Attempt
    from tests import factories

    town = factories.organisation(db)
    household = households.create_household(db, agent, town, name="Martin", guardian_first_name="Camille",
                                            guardian_last_name="Martin")
    households.subscribe(db, parent, Attempt("code", code=household.subscription_code), "http://localhost")
    if not child:
        return household
    return household, households.add_child(db, agent, household, first_name="Léa", last_name="Martin",
                                           birth_date=date(2018, 9, 14))


def declare(client, town, day, **extra):
    """« Déclarer l'absence d'un enfant » for Léo, one day, illness, as the form sends it."""
    data = {"child": str(town.leo.id), "start_date": day.strftime("%d/%m/%Y"),
            "end_date": day.strftime("%d/%m/%Y"), "motive": "illness", "comment": "Fièvre", **extra}
    return client.post("/agenda/absence", data=data, content_type="multipart/form-data")


def stored_files(app) -> list[str]:
    """The files kept in the instance's uploads folder."""
    root = os.path.join(app.instance_path, "uploads")
    return [name for _dir, _dirs, names in os.walk(root) for name in names]
