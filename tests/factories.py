"""Test data built straight in the database."""

from __future__ import annotations

from citoyen import passwords
from citoyen.models import Account
from citoyen.models import Organisation
from citoyen.models.base import utcnow

PASSWORD = "Motdepasse1"


def account(session, *, email="parent@example.org", first_name="Camille", last_name="Martin",
            password=PASSWORD, role="parent", activated=True, email_notifications=True) -> Account:
    now = utcnow()
    row = Account(
        email=email,
        first_name=first_name,
        last_name=last_name,
        password_hash=passwords.hash_password(password) if password else None,
        role=role,
        activated_at=now if activated else None,
        terms_accepted_at=now,
        email_notifications=email_notifications,
    )
    session.add(row)
    session.commit()
    return row


def organisation(session, **kwargs) -> Organisation:
    values = {
        "name": "Ville de Testville",
        "slug": "testville",
        "postcodes": "99999",
        "service_name": "Service Enfance",
        "phone": "01 23 45 67 89",
        "email": "enfance@testville.example",
        "address": "1 place de la Mairie\n99999 Testville",
        "opening_hours": "Lundi au vendredi, 8 h 30 – 17 h",
    }
    values.update(kwargs)
    row = Organisation(**values)
    session.add(row)
    session.commit()
    return row
