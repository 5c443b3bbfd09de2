"""Password hashing (argon2) and the password rule."""

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

RULE_TEXT = "8 caractères minimum, dont une majuscule, une minuscule et un chiffre"
# The same rule for the browser's own check (the `pattern` attribute).
HTML_PATTERN = r"(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,}"
MAX_LENGTH = 128

_hasher = PasswordHasher()
# Checked against when the account does not exist, so that the answer takes
# as long either way.
_dummy_hash: str | None = None


def configure(time_cost: int, memory_cost: int, parallelism: int) -> None:
    global _hasher, _dummy_hash
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _dummy_hash = None


def rule_problem(password: str) -> str | None:
    """The French sentence saying what the password lacks, or None."""
    missing = []
    if len(password) < 8:
        missing.append("8 caractères")
    if not re.search(r"[A-Z]", password):
        missing.append("une majuscule")
    if not re.search(r"[a-z]", password):
        missing.append("une minuscule")
    if not re.search(r"\d", password):
        missing.append("un chiffre")
    if len(password) > MAX_LENGTH:
        return f"Le mot de passe ne doit pas dépasser {MAX_LENGTH} caractères."
    if missing:
        return "Le mot de passe doit contenir au moins " + _join(missing) + "."
    return None


def _join(parts: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " et " + parts[-1]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    global _dummy_hash
    if password_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("dummy-password-for-timing")
        password_hash = _dummy_hash
        try:
            _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
