"""Paths of the pages that mails link to.

Services build mails without Flask, so the few paths a mail needs are written
here once; a test checks that each matches the route that serves it."""


def activation(token: str) -> str:
    return f"/activation/{token}"


def password_reset(token: str) -> str:
    return f"/mot-de-passe/nouveau/{token}"


def email_change(token: str) -> str:
    return f"/profil/identifiant/confirmer/{token}"


def invitation(token: str) -> str:
    return f"/invitation/{token}"


def sign_in() -> str:
    return "/connexion"


def messages() -> str:
    return "/messages/"


def password_recovery() -> str:
    return "/mot-de-passe-oublie"


def absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path
