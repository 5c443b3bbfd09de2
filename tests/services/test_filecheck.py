"""Files are accepted by their content: the corpus of bad inputs, and photos
kept as sent without their metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from citoyen import filecheck
from citoyen.filecheck import FileRefused
from tests import samples

MB = 1024 * 1024


@pytest.mark.parametrize("name, data", [
    ("justificatif.pdf", samples.pdf()),
    ("Avis d'imposition 2026 (page 1).PDF", samples.pdf()),
    ("photo.jpg", samples.jpeg()),
    ("photo.jpeg", samples.jpeg()),
    ("scan.png", samples.png()),
    ("attestation.doc", samples.doc()),
    ("attestation.odt", samples.odt()),
    ("exactement-2-mo.pdf", samples.pdf_of_size(2 * MB)),
    ("é" * 196 + ".pdf", samples.pdf()),
])
def test_accepted(name, data):
    checked = filecheck.check(name, data)
    assert checked.filename == name
    assert checked.content_type == filecheck.ACCEPTED[name[name.rindex("."):].lower()]


@pytest.mark.parametrize("name, data, message", [
    ("facture.pdf", samples.windows_executable(), "ne correspond pas à un fichier .pdf"),
    ("facture.pdf", samples.linux_executable(), "ne correspond pas à un fichier .pdf"),
    ("photo.png", samples.html(), "ne correspond pas à un fichier .png"),
    ("photo.png", samples.svg(), "ne correspond pas à un fichier .png"),
    ("photo.jpg", samples.svg(), "ne correspond pas à un fichier .jpg"),
    ("avis.pdf", samples.pdf_with_javascript(), "contient du code (JavaScript)"),
    ("avis.pdf", samples.pdf_with_hidden_javascript(), "contient du code (JavaScript)"),
    ("avis.pdf", samples.pdf_with_javascript_in_object_stream(), "contient du code (JavaScript)"),
    ("../../etc/passwd.pdf", samples.pdf(), "contient « / », « \\ » ou « .. »"),
    ("..\\config.pdf", samples.pdf(), "contient « / », « \\ » ou « .. »"),
    ("facture\x00.pdf", samples.pdf(), "caractères invisibles ou de contrôle"),
    ("facture\r\n.pdf", samples.pdf(), "caractères invisibles ou de contrôle"),
    ("photo\u202egnp.pdf", samples.pdf(), "caractères invisibles ou de contrôle"),
    ("a" * 296 + ".pdf", samples.pdf(), "trop long (300 caractères"),
    ("vide.pdf", b"", "est vide"),
    ("gros.pdf", samples.pdf_of_size(2 * MB + 1), "dépasse 2 Mo"),
    ("piege.odt", samples.odt_bomb(), "archive piégée"),
    ("macros.odt", samples.odt_with_macros(), "contient des macros"),
    ("macros.doc", samples.doc_with_macros(), "contient des macros"),
    ("recent.doc", samples.docx(), "ne correspond pas à un fichier .doc"),
    ("recent.docx", samples.docx(), "n'est pas accepté"),
    ("photo.jpg", samples.jpeg_with_html(), "contient autre chose qu'une image"),
    ("photo.png", samples.png_with_zip(), "contient autre chose qu'une image"),
    ("photo.jpg", samples.jpeg_with_script_in_comment(), "contient autre chose qu'une image"),
    ("photo.jpg", samples.png(), "ne correspond pas à un fichier .jpg"),
    ("programme.exe", samples.windows_executable(), "n'est pas accepté"),
    ("sans-extension", samples.pdf(), "n'est pas accepté"),
    ("", samples.pdf(), "Choisissez le fichier"),
])
def test_refused_with_a_french_message(name, data, message):
    with pytest.raises(FileRefused) as refused:
        filecheck.check(name, data)
    assert message in refused.value.message
    assert refused.value.field == "files"


def test_a_pdf_is_kept_byte_for_byte():
    data = samples.pdf("Quittance de loyer")
    assert filecheck.check("quittance.pdf", data).data == data


def _exif(data: bytes) -> Image.Exif:
    return Image.open(io.BytesIO(data)).getexif()


@pytest.mark.parametrize("name, data", [("photo.jpg", samples.jpeg_with_gps()),
                                        ("capture.png", samples.png_with_gps())])
def test_a_photo_loses_its_gps_position_and_keeps_its_picture(name, data):
    assert _exif(data).get_ifd(0x8825)  # the sample does carry a position
    cleaned = filecheck.check(name, data).data
    exif = _exif(cleaned)
    assert not exif.get_ifd(0x8825) and 0x0110 not in exif
    assert b"PhoneMaker" not in cleaned
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(cleaned))
    assert before.size == after.size and before.format == after.format
    assert after.convert("RGB").getpixel((40, 30)) == pytest.approx(
        before.convert("RGB").getpixel((40, 30)), abs=6)


def test_a_photo_taken_sideways_is_stored_upright():
    cleaned = filecheck.check("photo.jpg", samples.jpeg_with_gps(orientation=6)).data
    picture = Image.open(io.BytesIO(cleaned))
    assert picture.size == (48, 64)  # 64×48 turned a quarter
    assert 0x0112 not in picture.getexif()
    # The light corner was top left; turned clockwise it is top right.
    assert min(picture.convert("RGB").getpixel((44, 3))) > 200


def test_an_image_too_large_in_pixels_is_refused(monkeypatch):
    monkeypatch.setattr(filecheck, "MAX_PIXELS", 1000)
    with pytest.raises(FileRefused, match="endommagée ou illisible"):
        filecheck.check("photo.png", samples.png())
