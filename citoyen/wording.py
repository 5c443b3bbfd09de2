"""Small rules of French wording shared by the pages and the services."""


def of(name: str) -> str:
    """« de Léo », « d'Inès »: « de » before a first name, elided before a vowel."""
    return ("d'" if name[:1].lower() in "aeiouyàâäéèêëîïôöùûü" else "de ") + name
