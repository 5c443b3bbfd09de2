"""Checks on the files families send, by their content and not only by their name.

A file is accepted when its name is harmless, its extension is one of the
accepted formats, its content really is of that format (magic bytes, read by
``filetype``), and nothing active or hidden rides along: no JavaScript or
attachment in a PDF, no macros in a .doc or .odt, no archive that inflates
out of proportion, no second file glued to an image. Photos are re-saved
with Pillow, upright, without their metadata (GPS position, camera, date);
everything else is kept byte for byte."""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import warnings
import zipfile
import zlib
from dataclasses import dataclass

import filetype
from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

from citoyen.services.errors import DomainError

MAX_SIZE = 2 * 1024 * 1024
MAX_NAME = 200
MAX_PIXELS = 50_000_000
# An .odt is a zip: what it may inflate to, and how many parts it may have.
MAX_UNZIPPED = 50 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
# A PDF's compressed object streams are inflated to look for scripts inside.
MAX_PDF_INFLATED = 32 * 1024 * 1024

ACCEPTED = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".doc": "application/msword",
    ".odt": "application/vnd.oasis.opendocument.text",
}
FORMATS = "Formats acceptés : .pdf, .jpg, .jpeg, .png, .doc, .odt — 2 Mo maximum"
# What the file field offers: the formats, and the camera on a phone.
ACCEPT_ATTRIBUTE = ",".join(ACCEPTED) + ",application/pdf,image/jpeg,image/png"

ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
PDF_ACTIVE = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia)(?![A-Za-z0-9])")
PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"\bobj\b(.{0,2000}?)\bstream\r?\n", re.DOTALL)
# Markers of another kind of file hidden in an image (a polyglot).
FOREIGN_MARKERS = (b"<script", b"<html", b"<!doctype", b"<svg", b"<?php", b"<?xml", b"%pdf-",
                   b"<iframe", b"javascript:")
# The names of the parts of a .doc that hold macros (UTF-16, as OLE stores them).
DOC_MACROS = ("_VBA_PROJECT".encode("utf-16-le"), "Macros".encode("utf-16-le"))


class FileRefused(DomainError):
    field = "files"


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


def clean_name(filename: str | None) -> str:
    """The name as sent, if it is harmless; otherwise a French refusal."""
    name = unicodedata.normalize("NFC", filename or "").strip()
    if not name:
        raise FileRefused("Choisissez le fichier à envoyer.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in name):
        raise FileRefused(
            "Le nom du fichier contient des caractères invisibles ou de contrôle : "
            "renommez le fichier (lettres, chiffres et tirets), puis envoyez-le à nouveau."
        )
    if "/" in name or "\\" in name or name.startswith(".") or ".." in name:
        raise FileRefused(
            "Le nom du fichier contient « / », « \\ » ou « .. » : renommez le fichier "
            "(lettres, chiffres et tirets), puis envoyez-le à nouveau."
        )
    if len(name) > MAX_NAME:
        raise FileRefused(
            f"Le nom du fichier est trop long ({len(name)} caractères, {MAX_NAME} au plus) : "
            "renommez-le plus court, puis envoyez-le à nouveau."
        )
    return name


def check(filename: str | None, data: bytes, max_size: int = MAX_SIZE) -> CheckedFile:
    """Accept one file, or raise ``FileRefused`` with what to do, in French."""
    name = clean_name(filename)
    extension = os.path.splitext(name)[1].lower()
    expected = ACCEPTED.get(extension)
    if expected is None:
        raise FileRefused(f"Le format du fichier « {name} » n'est pas accepté. {FORMATS}.")
    if not data:
        raise FileRefused(f"Le fichier « {name} » est vide : choisissez un autre fichier.")
    if len(data) > max_size:
        raise FileRefused(
            f"Le fichier « {name} » dépasse {max_size // (1024 * 1024)} Mo : réduisez sa taille "
            "(par exemple en le numérisant en qualité moindre), puis envoyez-le à nouveau."
        )
    kind = filetype.guess(data)
    if kind is None or kind.mime != expected:
        raise FileRefused(
            f"Le contenu du fichier « {name} » ne correspond pas à un fichier {extension} : "
            f"il n'est pas accepté. {FORMATS}."
        )
    if expected == "application/pdf":
        _check_pdf(name, data)
    elif expected == "application/msword":
        _check_doc(name, data)
    elif expected == ODT_MIMETYPE.decode():
        _check_odt(name, data)
    else:
        data = _clean_image(name, data, expected)
    return CheckedFile(filename=name, content_type=expected, data=data)


# ---------------------------------------------------------------- PDF

def _pdf_names(chunk: bytes) -> bytes:
    """PDF names may spell letters as #xx (``/J#61vaScript``)."""
    return PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), chunk)


def _check_pdf(name: str, data: bytes) -> None:
    refused = FileRefused(
        f"Le PDF « {name} » contient du code (JavaScript), une action automatique ou un "
        "fichier joint, ce qui n'est pas accepté. Ouvrez-le, choisissez « Imprimer » puis "
        "« Enregistrer au format PDF », et envoyez ce nouveau fichier."
    )
    if PDF_ACTIVE.search(_pdf_names(data)):
        raise refused
    # Dictionaries may also hide inside compressed object streams.
    budget = MAX_PDF_INFLATED
    for match in PDF_STREAM.finditer(data):
        if b"/ObjStm" not in _pdf_names(match.group(1)):
            continue
        start = match.end()
        end = data.find(b"endstream", start)
        if end < 0:
            end = len(data)
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data[start:end], budget + 1)
        except zlib.error:  # not deflated, or damaged
            continue
        budget -= len(inflated)
        if budget < 0:
            raise FileRefused(
                f"Le PDF « {name} » n'a pas pu être vérifié (son contenu est anormalement "
                "volumineux). Enregistrez-le à nouveau au format PDF, puis envoyez-le."
            )
        if PDF_ACTIVE.search(_pdf_names(inflated)):
            raise refused


# ---------------------------------------------------------------- Word and OpenDocument

def _macros_refused(name: str) -> FileRefused:
    return FileRefused(
        f"Le document « {name} » contient des macros, qui ne sont pas acceptées. "
        "Enregistrez-le en PDF, puis envoyez le PDF."
    )


def _check_doc(name: str, data: bytes) -> None:
    if any(marker in data for marker in DOC_MACROS):
        raise _macros_refused(name)


def _check_odt(name: str, data: bytes) -> None:
    damaged = FileRefused(
        f"Le document « {name} » est endommagé ou n'est pas un vrai document .odt. "
        "Enregistrez-le à nouveau (ou en PDF), puis envoyez-le."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise damaged from None
    if not entries or entries[0].filename != "mimetype" or len(entries) > MAX_ZIP_ENTRIES:
        raise damaged
    total = 0
    for info in entries:
        if info.filename.startswith(("/", "\\")) or ".." in info.filename:
            raise damaged
        if info.filename.startswith(("Basic/", "Scripts/")):
            raise _macros_refused(name)
        try:
            with archive.open(info) as member:
                while chunk := member.read(64 * 1024):
                    total += len(chunk)
                    if total > MAX_UNZIPPED:
                        raise FileRefused(
                            f"Le document « {name} » se décompresse en un volume anormal "
                            "(archive piégée) : il n'est pas accepté."
                        )
                    if info.filename == "mimetype" and chunk.strip() != ODT_MIMETYPE:
                        raise damaged
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
            raise damaged from None


# ---------------------------------------------------------------- photos

def _png_end(data: bytes) -> int | None:
    """Where the PNG's IEND chunk ends, walking the chunks; None if damaged."""
    offset = 8
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8]
        offset += 12 + length
        if kind == b"IEND":
            return offset
    return None


def _has_foreign_content(data: bytes, expected: str) -> bool:
    lowered = data.lower()
    if any(marker in lowered for marker in FOREIGN_MARKERS):
        return True
    if expected == "image/png":
        return _png_end(data) != len(data)
    # A JPEG ends with its EOI marker; only padding may follow it.
    return not data.rstrip(b"\x00\r\n \t").endswith(b"\xff\xd9")


def _clean_image(name: str, data: bytes, expected: str) -> bytes:
    if _has_foreign_content(data, expected):
        raise FileRefused(
            f"L'image « {name} » contient autre chose qu'une image (un autre fichier y est "
            "caché) : elle n'est pas acceptée. Reprenez la photo ou enregistrez l'image à "
            "nouveau, puis envoyez-la."
        )
    damaged = FileRefused(
        f"L'image « {name} » est endommagée ou illisible : reprenez la photo, puis envoyez-la."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise damaged
            if image.format not in ("JPEG", "MPO", "PNG"):
                raise damaged
            image.load()
            return _without_metadata(image, expected)
    except FileRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError,
            OSError, ValueError, SyntaxError):
        raise damaged from None


def _without_metadata(image: Image.Image, expected: str) -> bytes:
    """The same picture, upright, with no EXIF, XMP, comments or text chunks;
    the colour profile is kept so that it looks the same."""
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    rotated = upright is not image
    out = io.BytesIO()
    options = {"icc_profile": icc} if icc else {}
    if expected == "image/png":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        upright.save(out, "PNG", **options)
    else:
        if rotated:
            options.update(quality=95, subsampling=0)
        else:
            options.update(quality="keep", subsampling="keep", qtables="keep")
        upright = upright if upright.mode in ("RGB", "L", "CMYK") else upright.convert("RGB")
        upright.save(out, "JPEG", **options)
    return out.getvalue()
