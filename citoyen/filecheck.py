"""Checks on the files families send, by their content and not only by their name.

A file is accepted when its name is harmless, its extension is one of the
accepted formats, its content really is of that format (magic bytes, read by
``filetype``), and nothing active or hidden rides along: no JavaScript,
attachment or action on opening (other than showing a page) in a PDF; no
macros, program, archive or packaged file in a .doc or .odt; no archive that
inflates out of proportion; no second file glued to an image or hidden in it.
Photos are kept as sent, but only with the parts needed to show them: their
metadata (GPS position, camera, date) and the segments private to a program
are dropped, the picture is not re-encoded (unless it was taken sideways and
must be turned upright); everything else is kept byte for byte."""

from __future__ import annotations

import base64
import functools
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
from PIL import JpegImagePlugin
from PIL import UnidentifiedImageError

from citoyen.services.errors import DomainError

MAX_SIZE = 2 * 1024 * 1024
MAX_NAME = 200
MAX_PIXELS = 50_000_000
# An .odt is a zip: what it may inflate to, and how many parts it may have.
MAX_UNZIPPED = 50 * 1024 * 1024
MAX_ZIP_ENTRIES = 1000
# A PDF's compressed object streams are inflated to look for scripts inside.
# They hold only small dictionaries: a file of 2 MB never needs more than this,
# and the bound keeps a check well under a second.
MAX_PDF_INFLATED = 8 * 1024 * 1024
# PNG predictors are undone in Python, byte by byte for some rows: object
# streams seldom use them, and never on this much data.
MAX_PDF_PREDICTED = 512 * 1024
# The PDF syntax allows integers up to 2**31: longer numbers mean a damaged file
# (and Python refuses to turn more than 4,300 digits into an int).
PDF_MAX_DIGITS = 20

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
# Markers of another kind of file hidden in an image (a polyglot).
FOREIGN_MARKERS = (b"<script", b"<html", b"<!doctype", b"<svg", b"<?php", b"<?xml", b"%pdf-",
                   b"<iframe", b"javascript:")
# The names of the parts of a .doc that hold macros (UTF-16, as OLE stores them).
DOC_MACROS = ("_VBA_PROJECT".encode("utf-16-le"), "Macros".encode("utf-16-le"))
# The part of a .doc (or of an object in an .odt) that holds a packaged file,
# which opens with a double click (often a program).
DOC_PACKAGE = "Ole10Native".encode("utf-16-le")
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Parts of an .odt named as a program, a script or an archive: refused,
# whatever they hold.
RUNNABLE_EXTENSIONS = frozenset(
    "exe com scr pif bat cmd msi msp mst dll cpl ocx sys drv vbs vbe js jse wsf wsh wsc ps1 psm1 "
    "hta htm html mht jar class lnk url scf reg inf chm hlp sh bash command app apk appx msix dmg "
    "iso img vhd vhdx zip rar 7z cab gz tgz tar xz bz2 zst lzh arj ace odt ods odp docx docm "
    "dotm xlsx xlsm xlam pptx pptm py pyw pl rb php".split()
)
# What the parts of an .odt may hold, by their content: XML (which ``filetype``
# does not recognise), pictures, fonts, sounds and videos. A PDF, or an OLE
# object (a chart or a table from Word), is checked as it would be on its own.
ODT_PART_ALLOWED = ("image/", "video/", "audio/", "application/font-")
# The end of a part, where a ZIP reader looks for an archive.
ARCHIVE_TAIL = 128 * 1024


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
        data = _clean_image(name, data, expected, max_size)
    return CheckedFile(filename=name, content_type=expected, data=data)


# ---------------------------------------------------------------- PDF
#
# The names that make a PDF act by itself (scripts, actions on a page or on
# a field, forms that post or open another file, embedded files) are looked
# for in the file and inside its object streams, which are decoded (Flate,
# ASCIIHex, ASCII85, alone or chained, with PNG predictors). An object stream
# that cannot be decoded (an unknown filter, damaged or encrypted data) cannot
# be checked, and the PDF is refused. The data of ordinary streams (pictures,
# fonts, page contents) is not read as names, except from an object header
# hidden in it: random bytes of a scanned page would otherwise look like
# « /JS » now and then. The action on opening (/OpenAction) may only show a
# page of the document (a destination, or a /GoTo action with nothing after
# it): any other action (a web address, a sound, printing, importing data…)
# is refused, wherever it is written, followed through references.

class _Name(bytes):
    pass


class _Ref(tuple):
    pass


class PdfSyntaxError(ValueError):
    pass


class PdfUndecodable(ValueError):
    pass


class PdfDamaged(ValueError):
    pass


PDF_WHITESPACE = b"\x00\t\n\x0c\r "
PDF_DELIMITERS = b"()<>[]{}/%"
PDF_MAX_DEPTH = 64


class _PdfReader:
    """Just enough of the PDF syntax to read an object's dictionary."""

    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos

    def skip(self) -> None:
        data, size = self.data, len(self.data)
        while self.pos < size:
            char = data[self.pos]
            if char in PDF_WHITESPACE:
                self.pos += 1
            elif char == 0x25:  # % comment, to the end of the line
                while self.pos < size and data[self.pos] not in b"\r\n":
                    self.pos += 1
            else:
                return

    def token(self) -> bytes:
        self.skip()
        start = self.pos
        while (self.pos < len(self.data) and self.data[self.pos] not in PDF_WHITESPACE
               and self.data[self.pos] not in PDF_DELIMITERS):
            self.pos += 1
        return self.data[start:self.pos]

    def value(self, depth: int = 0):
        if depth > PDF_MAX_DEPTH:
            raise PdfSyntaxError
        self.skip()
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise PdfSyntaxError
        if data.startswith(b"<<", pos):
            self.pos += 2
            found = {}
            while True:
                self.skip()
                if self.data.startswith(b">>", self.pos):
                    self.pos += 2
                    return found
                key = self.value(depth + 1)
                if not isinstance(key, _Name):
                    raise PdfSyntaxError
                found[bytes(key)] = self.value(depth + 1)
        char = data[pos]
        if char == 0x5B:  # [
            self.pos += 1
            items = []
            while True:
                self.skip()
                if self.data.startswith(b"]", self.pos):
                    self.pos += 1
                    return items
                items.append(self.value(depth + 1))
        if char == 0x28:  # ( literal string, nested parentheses, backslash escapes
            level, self.pos = 0, pos
            while self.pos < len(data):
                char = data[self.pos]
                self.pos += 1
                if char == 0x5C:
                    self.pos += 1
                elif char == 0x28:
                    level += 1
                elif char == 0x29:
                    level -= 1
                    if level == 0:
                        return data[pos:self.pos]
            raise PdfSyntaxError
        if char == 0x3C:  # < hex string >
            close = data.find(b">", pos)
            if close < 0:
                raise PdfSyntaxError
            self.pos = close + 1
            return data[pos:self.pos]
        if char == 0x2F:  # /Name
            self.pos += 1
            return _Name(_pdf_names(self.token()))
        word = self.token()
        if not word:
            raise PdfSyntaxError
        if word.isdigit():  # maybe « 5 0 R »
            if len(word) > PDF_MAX_DIGITS:
                raise PdfDamaged
            mark = self.pos
            generation = self.token()
            if generation.isdigit() and len(generation) <= PDF_MAX_DIGITS and self.token() == b"R":
                return _Ref((int(word), int(generation)))
            self.pos = mark
            return int(word)
        return word


PDF_ACTIVE = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|AA|XFA|SubmitForm|GoToR)"
    rb"(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
)
PDF_OPEN_ACTION = re.compile(rb"/OpenAction(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")
# References followed from an /OpenAction to the action itself.
PDF_MAX_INDIRECTION = 8
PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_OBJECT = re.compile(rb"(?<![0-9])[0-9]+[\x00\t\n\x0c\r ]+[0-9]+[\x00\t\n\x0c\r ]+obj(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")


def _pdf_names(chunk: bytes) -> bytes:
    """PDF names may spell letters as #xx (``/J#61vaScript``)."""
    return PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), chunk)


def _as_list(value) -> list:
    if value is None or value == b"null":
        return []
    return list(value) if isinstance(value, list) else [value]


def _png_unpredict(data: bytes, parms: dict) -> bytes:
    """Undo the PNG predictors a Flate stream may use (/Predictor 10 to 15)."""
    colors = parms.get(b"Colors", 1)
    bits = parms.get(b"BitsPerComponent", 8)
    columns = parms.get(b"Columns", 1)
    if not all(isinstance(v, int) and 0 < v <= 1 << 16 for v in (colors, bits, columns)):
        raise PdfUndecodable
    pixel = max(1, colors * bits // 8)
    row = (colors * bits * columns + 7) // 8
    if row > MAX_PDF_PREDICTED or len(data) > MAX_PDF_PREDICTED:
        raise PdfUndecodable
    out = bytearray()
    previous = bytearray(row)
    low7, high = int.from_bytes(b"\x7f" * row, "big"), int.from_bytes(b"\x80" * row, "big")
    for start in range(0, len(data), row + 1):
        kind, line = data[start], bytearray(data[start + 1:start + 1 + row])
        line += bytes(row - len(line))
        if kind == 0:
            out += line
            previous = line
            continue
        if kind == 2:  # Up, the usual one: each byte plus the one above, modulo 256, at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            line = bytearray((((a & low7) + (b & low7)) ^ ((a ^ b) & high)).to_bytes(row, "big"))
            out += line
            previous = line
            continue
        for i in range(row):
            left = line[i - pixel] if i >= pixel else 0
            up, corner = previous[i], previous[i - pixel] if i >= pixel else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 0xFF
            elif kind != 0:
                raise PdfUndecodable
        out += line
        previous = line
    return bytes(out)


def _pdf_decode(raw: bytes, dictionary: dict, budget: int) -> bytes:
    """A stream's data through its filters; PdfUndecodable when it cannot be."""
    if b"F" in dictionary:  # its data is in another file
        raise PdfUndecodable
    filters = _as_list(dictionary.get(b"Filter"))
    parms = _as_list(dictionary.get(b"DecodeParms"))
    data = raw
    for index, name in enumerate(filters):
        parm = parms[index] if index < len(parms) and isinstance(parms[index], dict) else {}
        if not isinstance(name, _Name):
            raise PdfUndecodable
        if name in (b"ASCIIHexDecode", b"AHx"):
            text = data.split(b">", 1)[0].translate(None, PDF_WHITESPACE)
            try:
                data = bytes.fromhex((text + b"0" * (len(text) % 2)).decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise PdfUndecodable from None
        elif name in (b"ASCII85Decode", b"A85"):
            text = data.split(b"~>", 1)[0].translate(None, PDF_WHITESPACE)
            text = text[2:] if text.startswith(b"<~") else text
            try:
                data = base64.a85decode(text)
            except ValueError:
                raise PdfUndecodable from None
        elif name in (b"FlateDecode", b"Fl"):
            inflater = zlib.decompressobj()
            try:
                data = inflater.decompress(data, budget + 1)
            except zlib.error:
                raise PdfUndecodable from None
            predictor = parm.get(b"Predictor", 1)
            if predictor not in (1, None) and len(data) <= budget:
                if not isinstance(predictor, int) or not 10 <= predictor <= 15:
                    raise PdfUndecodable
                data = _png_unpredict(data, parm)
        else:
            raise PdfUndecodable  # LZW, RunLength, Crypt, images…: not an object stream's
        if len(data) > budget:
            return data
    return data


def _stream_start(data: bytes, pos: int) -> int | None:
    """Where a stream's data starts, if the keyword « stream » is at ``pos``."""
    if not data.startswith(b"stream", pos):
        return None
    pos += 6
    if data.startswith(b"\r\n", pos):
        return pos + 2
    if data[pos:pos + 1] in (b"\n", b"\r"):
        return pos + 1
    return None


def _pdf_objects(data: bytes):
    """Each object's header position, its dictionary (None when it could not
    be read), and for a stream its data's bounds."""
    for match in PDF_OBJECT.finditer(data):
        reader = _PdfReader(data, match.end())
        try:
            value = reader.value()
        except (PdfSyntaxError, IndexError, RecursionError):
            yield match.start(), None, None
            continue
        if not isinstance(value, dict):
            continue
        reader.skip()
        start = _stream_start(data, reader.pos)
        if start is None:
            yield match.start(), value, None
            continue
        end = data.find(b"endstream", start)
        end = len(data) if end < 0 else end
        length = value.get(b"Length")
        if isinstance(length, int) and start + length <= end:
            stop = start + length
        else:
            stop = end - (2 if data[end - 2:end] == b"\r\n" else 1 if data[end - 1:end] in b"\r\n" else 0)
        yield match.start(), value, (start, max(start, stop))


def _outside_streams(data: bytes, spans: list[tuple[int, int]]) -> list[bytes]:
    """The parts of the file read as names: all but the data of streams; from
    an object header found inside a stream's data, the rest of it too."""
    parts, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        parts.append(data[pos:start])
        hidden = PDF_OBJECT.search(data, start, end)
        if hidden:
            parts.append(data[hidden.start():end])
        pos = end
    parts.append(data[pos:])
    return parts


def _check_pdf(name: str, data: bytes) -> None:
    try:
        _check_pdf_content(name, data)
    except (PdfDamaged, MemoryError, RecursionError):
        raise _pdf_damaged(name) from None


def _pdf_damaged(name: str) -> FileRefused:
    return FileRefused(
        f"Le PDF « {name} » est endommagé ou n'a pas pu être vérifié. Ouvrez-le, choisissez "
        "« Imprimer » puis « Enregistrer au format PDF », et envoyez ce nouveau fichier."
    )


def _check_pdf_content(name: str, data: bytes) -> None:
    refused = FileRefused(
        f"Le PDF « {name} » contient du code (JavaScript), une action automatique, un "
        "formulaire qui s'envoie ou un fichier joint, ce qui n'est pas accepté. Ouvrez-le, "
        "choisissez « Imprimer » puis « Enregistrer au format PDF », et envoyez ce nouveau "
        "fichier."
    )
    unreadable = FileRefused(
        f"Le PDF « {name} » est endommagé ou n'a pas pu être vérifié : une partie de son contenu est "
        "compressée ou protégée d'une façon qui ne peut pas être lue. Ouvrez-le, choisissez "
        "« Imprimer » puis « Enregistrer au format PDF », et envoyez ce nouveau fichier."
    )
    spans, object_streams = [], []
    for header, dictionary, bounds in _pdf_objects(data):
        if dictionary is None:
            # An object that cannot be read: harmless, unless it claims to be
            # an object stream (then what it holds cannot be checked).
            following = data[header:header + 4096]
            stop = following.find(b"endobj")
            if b"/ObjStm" in _pdf_names(following[:stop if stop > 0 else None]):
                raise unreadable
            continue
        if bounds is None:
            continue
        spans.append(bounds)
        if dictionary.get(b"Type") == b"ObjStm" or b"First" in dictionary:
            object_streams.append((dictionary, data[bounds[0]:bounds[1]]))
    texts = [_pdf_names(part) for part in _outside_streams(data, spans)]
    if any(PDF_ACTIVE.search(text) for text in texts):
        raise refused
    openings = [value for text in texts for value in _pdf_opening_values(text)]
    # Dictionaries may also hide inside compressed object streams.
    budget = MAX_PDF_INFLATED
    decoded = []
    for dictionary, raw in object_streams:
        try:
            inflated = _pdf_decode(raw, dictionary, budget)
        except PdfUndecodable:
            raise unreadable from None
        budget -= len(inflated)
        if budget < 0:
            raise FileRefused(
                f"Le PDF « {name} » est endommagé ou n'a pas pu être vérifié (son contenu est anormalement "
                "volumineux). Enregistrez-le à nouveau au format PDF, puis envoyez-le."
            )
        text = _pdf_names(inflated)
        if PDF_ACTIVE.search(text):
            raise refused
        openings += _pdf_opening_values(text)
        decoded.append((dictionary, inflated))
    definitions = functools.cache(lambda: _pdf_definitions(data, decoded))
    if not all(_pdf_shows_a_page(value, definitions) for value in openings):
        raise refused


def _pdf_opening_values(text: bytes) -> list:
    """What each /OpenAction in ``text`` is set to (None when it cannot be read)."""
    values = []
    for match in PDF_OPEN_ACTION.finditer(text):
        try:
            values.append(_PdfReader(text, match.end()).value())
        except (PdfSyntaxError, IndexError, RecursionError):
            values.append(None)
    return values


def _pdf_object_stream_members(dictionary: dict, inflated: bytes):
    """The number and the value of each object held in a decoded object stream."""
    first = dictionary.get(b"First")
    if not isinstance(first, int):
        return
    reader, header = _PdfReader(inflated, 0), []
    while True:
        number, offset = reader.token(), reader.token()
        if not (number.isdigit() and offset.isdigit()):
            break
        if max(len(number), len(offset)) > PDF_MAX_DIGITS:
            break
        header.append((int(number), int(offset)))
    for number, offset in header:
        try:
            yield number, _PdfReader(inflated, first + offset).value()
        except (PdfSyntaxError, IndexError, RecursionError):
            yield number, None


def _pdf_definitions(data: bytes, decoded: list[tuple[dict, bytes]]) -> dict[int, list]:
    """Every value given to each object number, in the file and in its object
    streams (a file updated in place may define an object more than once)."""
    found: dict[int, list] = {}
    for match in PDF_OBJECT.finditer(data):
        digits = re.match(rb"[0-9]+", match.group()).group()
        if len(digits) > PDF_MAX_DIGITS:
            continue
        try:
            value = _PdfReader(data, match.end()).value()
        except (PdfSyntaxError, IndexError, RecursionError):
            value = None
        found.setdefault(int(digits), []).append(value)
    for dictionary, inflated in decoded:
        for number, value in _pdf_object_stream_members(dictionary, inflated):
            found.setdefault(number, []).append(value)
    return found


def _pdf_shows_a_page(value, definitions, depth: int = 0) -> bool:
    """Whether an /OpenAction only shows a page: a destination (an array, a
    name), or a /GoTo action with no other action after it. A reference is
    followed to every value its object is given; one that leads nowhere, or
    too far, is not accepted."""
    if isinstance(value, _Ref):
        targets = definitions().get(value[0]) if depth < PDF_MAX_INDIRECTION else None
        return bool(targets) and all(_pdf_shows_a_page(target, definitions, depth + 1)
                                     for target in targets)
    if isinstance(value, dict):
        return value.get(b"S") == b"GoTo" and b"Next" not in value
    return value is not None


# ---------------------------------------------------------------- Word and OpenDocument

def _macros_refused(name: str) -> FileRefused:
    return FileRefused(
        f"Le document « {name} » contient des macros, qui ne sont pas acceptées. "
        "Enregistrez-le en PDF, puis envoyez le PDF."
    )


def _hidden_file_refused(name: str) -> FileRefused:
    return FileRefused(
        f"Le document « {name} » contient autre chose qu'un document (un programme, une "
        "archive ou un autre fichier y est caché) : il n'est pas accepté. Enregistrez-le en "
        "PDF, puis envoyez le PDF."
    )


def _check_doc(name: str, data: bytes) -> None:
    if any(marker in data for marker in DOC_MACROS):
        raise _macros_refused(name)
    if DOC_PACKAGE in data:
        raise _hidden_file_refused(name)


def _runnable_name(filename: str) -> bool:
    """A part named as a program, a script or an archive (``facture.exe``,
    ``setup.scr ``: Windows ignores the spaces and dots at the end)."""
    extension = os.path.splitext(filename.rstrip(" .").lower())[1]
    return extension[1:] in RUNNABLE_EXTENSIONS


def _opens_as_archive(data: bytes) -> bool:
    """Whether a ZIP reader finds files in ``data`` (it reads from the end, so
    an archive may sit anywhere in a file, or at the end of a part)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, NotImplementedError, OSError,
            EOFError, RuntimeError):
        return False


def _check_odt_part(name: str, head: bytes, whole: bytes | None, tail: bytes) -> None:
    """One part of an .odt, by its content: its first bytes, all of it for a
    PDF or an OLE object, and its end."""
    if head.startswith(OLE_SIGNATURE) and whole is not None:
        _check_doc(name, whole)
    elif b"%PDF-" in head[:1024] and whole is not None:
        if len(whole) > MAX_PDF_INFLATED:
            raise _hidden_file_refused(name)
        try:
            _check_pdf(name, whole)
        except FileRefused:
            raise _hidden_file_refused(name) from None
    else:
        kind = filetype.guess(head)
        if kind is not None and not kind.mime.startswith(ODT_PART_ALLOWED):
            raise _hidden_file_refused(name)
    if _opens_as_archive(tail):
        raise _hidden_file_refused(name)


def _check_odt(name: str, data: bytes) -> None:
    damaged = FileRefused(
        f"Le document « {name} » est endommagé ou n'est pas un vrai document .odt. "
        "Enregistrez-le à nouveau (ou en PDF), puis envoyez-le."
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zlib.error, ValueError, NotImplementedError, OSError, EOFError,
            RuntimeError):
        raise damaged from None
    if not entries or entries[0].filename != "mimetype" or len(entries) > MAX_ZIP_ENTRIES:
        raise damaged
    total = 0
    for info in entries:
        if info.filename.startswith(("/", "\\")) or ".." in info.filename:
            raise damaged
        if info.filename.startswith(("Basic/", "Scripts/")):
            raise _macros_refused(name)
        if _runnable_name(info.filename):
            raise _hidden_file_refused(name)
        head, tail, whole = b"", b"", None
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
                    if not head:
                        # The first read holds 64 KB, or the whole part.
                        head = chunk
                        checked_whole = head.startswith(OLE_SIGNATURE) or b"%PDF-" in head[:1024]
                        whole = [] if checked_whole else None
                    if whole is not None:
                        whole.append(chunk)
                    tail = (tail + chunk)[-ARCHIVE_TAIL:]
        except (zipfile.BadZipFile, zlib.error, ValueError, NotImplementedError, RuntimeError,
                OSError, EOFError):
            raise damaged from None
        if head and info.filename != "mimetype":
            _check_odt_part(name, head, None if whole is None else b"".join(whole), tail)


# ---------------------------------------------------------------- photos
#
# A photo is kept as sent, except that its metadata (GPS position, camera,
# date, comments) and the segments or chunks private to a program are removed
# by dropping them: the compressed picture itself is copied byte for byte,
# never re-encoded, so it keeps its quality and its size. Only a photo taken
# sideways (an EXIF Orientation other than 1) is turned upright, which means
# decoding it and encoding it again, with its own quantisation tables.

# JPEG segments kept: APP0 (JFIF), APP14 (Adobe colour transform), APP2 only
# when it is the ICC colour profile, and every segment that is not an APPn or
# a comment (tables, frame, scans). Dropped: APP1 (EXIF, XMP), APP13
# (Photoshop/IPTC), COM, APP2 MPF (the index of the images after the end), and
# the other APPn, where makers keep their own metadata.
JPEG_KEPT_APP = (0xE0, 0xEE)
JPEG_ICC = b"ICC_PROFILE\x00"
# Markers without a length: TEM, RST0-7, SOI, EOI.
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG chunks kept: those that make the picture (header, palette, data, end),
# and the well-known ones that say how to show it (transparency, gamma,
# colours, colour profile, significant bits, pixel size, background). All the
# others are dropped: metadata (eXIf, tEXt, iTXt, zTXt, tIME), and the chunks
# private to a program or unknown, where anything may be kept.
PNG_KEPT = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP",
            b"sBIT", b"pHYs", b"bKGD", b"cICP"}
# Bytes after the end of a photo: phones write a short video there (motion
# photos) or a second picture (MPF, gain maps). They are dropped; but a file
# recognisable as an archive, a program or a document is another file hidden
# in the photo, and the photo is refused, as before. So is a photo one of whose
# dropped segments or chunks holds such a file, and a photo whose kept parts
# still open as an archive (a ZIP reader finds it from the end of the file).
TRAILER_ALLOWED = ("image/", "video/", "audio/")


class DamagedImage(ValueError):
    pass


def _jpeg_parts(data: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """The JPEG without its metadata segments, up to its EOI; what follows it;
    and what the dropped segments held."""
    if data[:2] != b"\xff\xd8":
        raise DamagedImage
    kept, dropped = [b"\xff\xd8"], []
    pos, size = 2, len(data)
    while True:
        if pos >= size or data[pos] != 0xFF:
            raise DamagedImage
        while pos < size and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= size:
            raise DamagedImage
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            kept.append(b"\xff\xd9")
            return b"".join(kept), data[pos:], dropped
        if marker in JPEG_STANDALONE:
            kept.append(bytes((0xFF, marker)))
            continue
        if marker in (0x00, 0xD8) or pos + 2 > size:
            raise DamagedImage
        length = int.from_bytes(data[pos:pos + 2], "big")
        end = pos + length
        if length < 2 or end > size:
            raise DamagedImage
        body = data[pos + 2:end]
        is_app = 0xE0 <= marker <= 0xEF
        if marker == 0xFE or (is_app and marker not in JPEG_KEPT_APP
                              and not (marker == 0xE2 and body.startswith(JPEG_ICC))):
            dropped.append(body)  # metadata: dropped
            pos = end
            continue
        kept.append(bytes((0xFF, marker)) + data[pos:end])
        pos = end
        if marker == 0xDA:
            # The compressed scan: up to the next marker that is not a stuffed
            # 0xFF00, a restart marker or a fill byte.
            scan = pos
            while True:
                i = data.find(b"\xff", pos)
                if i < 0 or i + 1 >= size:
                    raise DamagedImage
                following = data[i + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos = i + (2 if following != 0xFF else 1)
                    continue
                break
            kept.append(data[scan:i])
            pos = i


def _png_parts(data: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """The PNG with only the chunks that show it, up to its IEND; what follows
    it; and what the dropped chunks held."""
    if not data.startswith(PNG_SIGNATURE):
        raise DamagedImage
    kept, dropped = [PNG_SIGNATURE], []
    pos, size = len(PNG_SIGNATURE), len(data)
    while pos + 12 <= size:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > size:
            raise DamagedImage
        if kind in PNG_KEPT:
            kept.append(data[pos:end])
        else:
            dropped.append(data[pos + 8:end - 4])
        pos = end
        if kind == b"IEND":
            return b"".join(kept), data[pos:], dropped
    raise DamagedImage


def _parts(data: bytes, expected: str) -> tuple[bytes, bytes, list[bytes]]:
    return _png_parts(data) if expected == "image/png" else _jpeg_parts(data)


def _is_another_file(part: bytes) -> bool:
    """Another file that is not a picture or a video (an archive, a program, a PDF)."""
    if not part.strip(b"\x00\r\n \t"):
        return False
    if zipfile.is_zipfile(io.BytesIO(part)):
        return True
    kind = filetype.guess(part)
    return kind is not None and not kind.mime.startswith(TRAILER_ALLOWED)


def _hides_a_file(data: bytes, kept: bytes, trailer: bytes, dropped: list[bytes]) -> bool:
    """A web page or script anywhere in the photo; another file after its end
    or in a segment dropped from it; or an archive its kept parts still hold."""
    lowered = data.lower()
    if any(marker in lowered for marker in FOREIGN_MARKERS):
        return True
    if any(_is_another_file(part) for part in (trailer, *dropped)):
        return True
    return _opens_as_archive(kept)


def _clean_image(name: str, data: bytes, expected: str, max_size: int = MAX_SIZE) -> bytes:
    damaged = FileRefused(
        f"L'image « {name} » est endommagée ou illisible : reprenez la photo, puis envoyez-la."
    )
    try:
        kept, trailer, dropped = _parts(data, expected)
    except DamagedImage:
        raise damaged from None
    if _hides_a_file(data, kept, trailer, dropped):
        raise FileRefused(
            f"L'image « {name} » contient autre chose qu'une image (un autre fichier y est "
            "caché) : elle n'est pas acceptée. Reprenez la photo ou enregistrez l'image à "
            "nouveau, puis envoyez-la."
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
            orientation = image.getexif().get(0x0112, 1)
            if orientation not in range(2, 9):
                return kept
            upright = _upright(image, expected)
        kept = _parts(upright, expected)[0]
    except FileRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError,
            OSError, ValueError, SyntaxError):
        raise damaged from None
    if len(kept) > max_size:
        raise FileRefused(
            f"La photo « {name} », une fois remise à l'endroit, dépasse "
            f"{max_size // (1024 * 1024)} Mo : reprenez-la en tenant le téléphone droit, ou "
            "réduisez sa taille, puis envoyez-la à nouveau."
        )
    return kept


def _upright(image: Image.Image, expected: str) -> bytes:
    """A photo taken sideways, turned upright and encoded again (with its colour
    profile, and for a JPEG with its own quantisation tables, so that it keeps
    its quality); its metadata is dropped afterwards by ``_parts``."""
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    options = {"icc_profile": icc} if icc else {}
    if expected == "image/png":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        upright.save(out, "PNG", **options)
        return out.getvalue()
    tables = getattr(image, "quantization", None)
    if tables:
        options["qtables"] = [tables[k] for k in sorted(tables)]
        sampling = JpegImagePlugin.get_sampling(image)
        if sampling in (0, 1, 2):
            options["subsampling"] = sampling
    else:
        options.update(quality=95, subsampling=0)
    upright = upright if upright.mode in ("RGB", "L", "CMYK") else upright.convert("RGB")
    upright.save(out, "JPEG", comment=b"", **options)
    return out.getvalue()
