"""The demo commune: a fictional town, its agents and a few families."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from citoyen import passwords
from citoyen.models import Account
from citoyen.models import Organisation
from citoyen.models.base import utcnow
from citoyen.services import notifications

DEMO_PASSWORD = "Citoyen2026"
TOWN = "Ville de Belval-sur-Loire"

ACCOUNTS = [
    # (email, first name, last name, role)
    ("admin@belval.example", "Nadia", "Roussel", "admin"),
    ("agent@belval.example", "Julien", "Moreau", "agent"),
    ("camille.martin@example.org", "Camille", "Martin", "parent"),
    ("karim.benali@example.org", "Karim", "Benali", "parent"),
    ("sophie.lefebvre@example.org", "Sophie", "Lefebvre", "parent"),
]


def load(session: Session, settings: Mapping) -> bool:
    """Create the demo data unless it is there already; True if created."""
    if session.scalar(select(Organisation.id).where(Organisation.slug == "belval")) is not None:
        return False
    session.add(
        Organisation(
            name=TOWN,
            slug="belval",
            postcodes="45990",
            service_name="Service Enfance et Éducation",
            phone="02 38 00 00 00",
            email="enfance@belval.example",
            address="Mairie de Belval-sur-Loire\n1 place de la Mairie\n45990 Belval-sur-Loire",
            opening_hours="Lundi au vendredi : 8 h 30 – 12 h et 13 h 30 – 17 h 30\nSamedi : 9 h – 12 h",
        )
    )
    now = utcnow()
    password_hash = passwords.hash_password(DEMO_PASSWORD)
    created = []
    for email, first, last, role in ACCOUNTS:
        account = Account(
            email=email,
            first_name=first,
            last_name=last,
            role=role,
            password_hash=password_hash,
            activated_at=now,
            terms_accepted_at=now,
            # Demo addresses do not exist: no mail for notifications.
            email_notifications=False,
        )
        session.add(account)
        created.append(account)
    session.flush()
    base_url = settings.get("BASE_URL") or "http://127.0.0.1:5000"
    for account in created:
        if account.role == "parent":
            notifications.notify(
                session,
                account,
                "Bienvenue sur le portail famille",
                "Votre compte est prêt. Bientôt, vous pourrez y rattacher votre foyer avec "
                "le code abonné transmis par la mairie.",
                base_url,
            )
    session.commit()
    return True


def summary(created: bool) -> str:
    lines = ["Données de démonstration : " + ("chargées." if created else "déjà présentes.")]
    lines.append(f"Comptes de démonstration (mot de passe : {DEMO_PASSWORD}) :")
    for email, first, last, role in ACCOUNTS:
        label = {"admin": "administrateur", "agent": "agent", "parent": "famille"}[role]
        lines.append(f"  {email:<30} {label} ({first} {last})")
    return "\n".join(lines)
