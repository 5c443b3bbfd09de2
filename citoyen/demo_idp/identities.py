"""Fictional people the demo provider can sign in, and the claims each scope releases.

They match the demo families of ``citoyen.demo`` (same names and e-mail
addresses) so the portal can link them to the demo accounts."""

from __future__ import annotations

IDENTITIES = [
    {
        "sub": "demo-fc-camille-martin",
        "given_name": "Camille",
        "family_name": "Martin",
        "birthdate": "1988-04-12",
        "gender": "female",
        "birthplace": "45234",  # Orléans
        "birthcountry": "99100",
        "email": "camille.martin@example.org",
    },
    {
        "sub": "demo-fc-karim-benali",
        "given_name": "Karim Youssef",
        "family_name": "Benali",
        "birthdate": "1983-11-02",
        "gender": "male",
        "birthplace": "69123",  # Lyon
        "birthcountry": "99100",
        "email": "karim.benali@example.org",
    },
    {
        # Birth name Dubois, usage name Lefebvre: the usage name is preferred_username.
        "sub": "demo-fc-sophie-lefebvre",
        "given_name": "Sophie Marie",
        "family_name": "Dubois",
        "preferred_username": "Lefebvre",
        "birthdate": "1990-07-23",
        "gender": "female",
        "birthplace": "75115",  # Paris 15e
        "birthcountry": "99100",
        "email": "sophie.lefebvre@example.org",
    },
    {
        # Nobody in the demo commune has an account with this address yet:
        # the identity to try "Je n'ai pas encore de compte" with.
        "sub": "demo-fc-lucas-girard",
        "given_name": "Lucas",
        "family_name": "Girard",
        "birthdate": "1992-02-29",
        "gender": "male",
        "birthplace": "33063",  # Bordeaux
        "birthcountry": "99100",
        "email": "lucas.girard@example.net",
    },
]

BY_SUB = {identity["sub"]: identity for identity in IDENTITIES}

USER_CLAIMS = [
    "given_name",
    "family_name",
    "birthdate",
    "gender",
    "birthplace",
    "birthcountry",
    "email",
    "preferred_username",
]

# Each scope releases these claims; FranceConnect also has a few grouped scopes.
SCOPE_CLAIMS = {claim: [claim] for claim in USER_CLAIMS} | {
    "profile": ["given_name", "family_name", "birthdate", "gender", "preferred_username"],
    "birth": ["birthplace", "birthcountry"],
    "identite_pivot": [
        "given_name",
        "family_name",
        "birthdate",
        "gender",
        "birthplace",
        "birthcountry",
    ],
}


def released_claims(identity: dict, scope: str) -> dict:
    """The identity's claims the scope asks for (absent ones are left out)."""
    names = {name for word in scope.split() for name in SCOPE_CLAIMS.get(word, [])}
    return {name: identity[name] for name in USER_CLAIMS if name in names and name in identity}


def description(identity: dict) -> str:
    """A short French line shown under the name on the sign-in page."""
    year, month, day = identity["birthdate"].split("-")
    born = "née" if identity["gender"] == "female" else "né"
    text = f"{born} le {day}/{month}/{year}, {identity['email']}"
    if "preferred_username" in identity:
        text = f"nom d'usage {identity['preferred_username']}, {text}"
    return text
