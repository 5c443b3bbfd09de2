"""A child's record beyond the sections that wait for the town hall: the adults
allowed to pick the child up, and the photo. The family manages both directly."""

from __future__ import annotations

import io
import warnings

from sqlalchemy.orm import Session

from citoyen.models import Account
from citoyen.models import AuthorizedPickup
from citoyen.models import ChildPhoto
from citoyen.models import Household
from citoyen.models.base import utcnow
from citoyen.services import audit
from citoyen.services import households
from citoyen.services.changes import child_of
from citoyen.services.errors import DomainError
from citoyen.services.errors import NotFound
from citoyen.transactions import begin_write

MAX_PICKUPS = 10
# What a parent may send: a phone photo is often 3 to 6 MB.
PHOTO_MAX_BYTES = 8 * 1024 * 1024
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_SIZE = 480  # longest side of the kept photo, in pixels


def _clean(first_name: str, last_name: str, relation: str, phone: str) -> dict[str, str]:
    return {
        "first_name": households._text(first_name, "first_name", "le prénom", 100),
        "last_name": households._text(last_name, "last_name", "le nom", 100),
        "relation": households._text(relation, "relation", "le lien avec l'enfant", 60, False),
        "phone": households.check_phone(households._text(phone, "phone", "un téléphone", 30), "phone"),
    }


def _audit(session: Session, actor: Account, household: Household, action: str, text: str) -> None:
    if actor.is_agent:
        audit.record(session, actor, action, "household", household.id, household.name, text)


def add_pickup(session: Session, actor: Account, household: Household, child_id: int, *,
               first_name: str, last_name: str, relation: str = "", phone: str) -> AuthorizedPickup:
    """Ajouter une nouvelle personne autorisée à récupérer l'enfant."""
    values = _clean(first_name, last_name, relation, phone)
    begin_write(session)
    child = child_of(session, household, child_id)
    if len(child.pickups) >= MAX_PICKUPS:
        raise DomainError(f"Vous pouvez autoriser au plus {MAX_PICKUPS} personnes par enfant.",
                          "first_name")
    pickup = AuthorizedPickup(child_id=child.id, **values)
    session.add(pickup)
    _audit(session, actor, household, "household.pickup_added",
           f"{pickup.full_name} pour {child.full_name}")
    session.commit()
    return pickup


def get_pickup(session: Session, household: Household, child_id: int, pickup_id: int) -> AuthorizedPickup:
    """A person allowed to pick up this child of this household, or NotFound."""
    child = child_of(session, household, child_id)
    pickup = session.get(AuthorizedPickup, pickup_id)
    if pickup is None or pickup.child_id != child.id:
        raise NotFound("Cette personne n'existe pas.")
    return pickup


def edit_pickup(session: Session, actor: Account, household: Household, child_id: int,
                pickup_id: int, *, first_name: str, last_name: str, relation: str = "",
                phone: str) -> AuthorizedPickup:
    values = _clean(first_name, last_name, relation, phone)
    begin_write(session)
    pickup = get_pickup(session, household, child_id, pickup_id)
    for name, value in values.items():
        setattr(pickup, name, value)
    _audit(session, actor, household, "household.pickup_edited",
           f"{pickup.full_name} pour {pickup.child.full_name}")
    session.commit()
    return pickup


def remove_pickup(session: Session, actor: Account, household: Household, child_id: int,
                  pickup_id: int) -> None:
    begin_write(session)
    pickup = get_pickup(session, household, child_id, pickup_id)
    _audit(session, actor, household, "household.pickup_removed",
           f"{pickup.full_name} pour {pickup.child.full_name}")
    session.delete(pickup)
    session.commit()


def prepare_photo(data: bytes) -> bytes:
    """An image, turned upright, reduced and re-encoded as JPEG: nothing of
    the original file is kept but its pixels (no EXIF, no GPS position)."""
    from PIL import Image
    from PIL import ImageOps
    from PIL import UnidentifiedImageError

    if not data:
        raise DomainError("Choisissez une photo.", "photo")
    if len(data) > PHOTO_MAX_BYTES:
        raise DomainError("Cette photo est trop lourde : 8 Mo maximum.", "photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ("JPEG", "PNG", "WEBP", "GIF", "MPO"):
                    raise DomainError("Ce fichier n'est pas une photo : formats acceptés .jpg, .png.",
                                      "photo")
                if image.width * image.height > PHOTO_MAX_PIXELS:
                    raise DomainError("Cette photo est trop grande.", "photo")
                image = ImageOps.exif_transpose(image)
                image = image.convert("RGB")
                image.thumbnail((PHOTO_SIZE, PHOTO_SIZE))
                out = io.BytesIO()
                image.save(out, "JPEG", quality=82, optimize=True)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            OSError, SyntaxError, ValueError):
        raise DomainError("Ce fichier n'est pas une photo : formats acceptés .jpg, .png.",
                          "photo") from None
    return out.getvalue()


def set_photo(session: Session, actor: Account, household: Household, child_id: int,
              data: bytes) -> None:
    jpeg = prepare_photo(data)
    begin_write(session)
    child = child_of(session, household, child_id)
    if child.photo is None:
        child.photo = ChildPhoto(child_id=child.id, data=jpeg)
    else:
        child.photo.data = jpeg
        child.photo.updated_at = utcnow()
    _audit(session, actor, household, "household.photo_changed", child.full_name)
    session.commit()


def remove_photo(session: Session, actor: Account, household: Household, child_id: int) -> None:
    begin_write(session)
    child = child_of(session, household, child_id)
    if child.photo is not None:
        session.delete(child.photo)
        _audit(session, actor, household, "household.photo_removed", child.full_name)
    session.commit()
