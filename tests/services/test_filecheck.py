"""Files are accepted by their content: the corpus of bad inputs, and photos
kept as sent without their metadata."""

from __future__ import annotations

import io
import zlib

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


# ---------------------------------------------------------------- no re-encoding

def _segments(data: bytes) -> list[int]:
    """The JPEG markers before the first scan."""
    found, pos = [], 2
    while data[pos + 1] != 0xDA:
        found.append(data[pos + 1])
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return found


@pytest.mark.parametrize("trailer", [b"", samples.mp4(), samples.samsung_motion_trailer(),
                                     b"\x00" * 16])
def test_a_jpeg_is_kept_as_sent_minus_its_metadata(trailer):
    original, expected = samples.jpeg_with_metadata(trailer)
    assert _exif(original).get_ifd(0x8825)
    cleaned = filecheck.check("IMG_0001.jpg", original).data
    assert cleaned == expected  # not re-encoded: byte for byte, minus the segments
    assert samples.scan_data(cleaned) == samples.scan_data(original)
    assert len(cleaned) < len(original)
    assert not _exif(cleaned).get_ifd(0x8825) and b"PhoneMaker" not in cleaned
    assert 0xE1 not in _segments(cleaned) and 0xFE not in _segments(cleaned)
    assert Image.open(io.BytesIO(cleaned)).info["icc_profile"] == samples.srgb_profile()


def test_a_png_is_kept_as_sent_minus_its_metadata():
    original, expected = samples.png_with_metadata()
    assert _exif(original).get_ifd(0x8825)
    cleaned = filecheck.check("capture.png", original).data
    assert cleaned == expected
    assert not _exif(cleaned).get_ifd(0x8825) and b"PhoneMaker" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).info["icc_profile"] == samples.srgb_profile()


def test_a_large_photo_keeps_its_size():
    original = samples.photo((1600, 1200), quality=92)
    exif = samples.jpeg_segment(0xE1, b"Exif\x00\x00" + samples.gps_exif().tobytes())
    cleaned = filecheck.check("photo.jpg", original[:2] + exif + original[2:]).data
    assert cleaned == original


@pytest.mark.parametrize("glued", [
    samples._zip([("payload.exe", samples.windows_executable(), 8)]),
    samples.windows_executable(),
    samples.pdf(),
    b"<html><script>alert(1)</script></html>",
])
def test_a_file_glued_after_a_photo_is_still_refused(glued):
    for data in (samples.jpeg() + glued, samples.png() + glued):
        with pytest.raises(FileRefused, match="contient autre chose qu'une image"):
            filecheck.check("photo.jpg" if data[:2] == b"\xff\xd8" else "photo.png", data)


def test_a_photo_turned_upright_is_stripped_too():
    data = samples.jpeg_with_metadata()[0]
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    sideways = data[:2] + samples.jpeg_segment(0xE1, b"Exif\x00\x00" + exif.tobytes()) + data[2:]
    cleaned = filecheck.check("photo.jpg", sideways).data
    picture = Image.open(io.BytesIO(cleaned))
    assert picture.size == (240, 320)
    assert b"PhoneMaker" not in cleaned and 0xFE not in _segments(cleaned)
    assert not picture.getexif() and picture.info["icc_profile"] == samples.srgb_profile()


def test_a_photo_too_big_once_upright_is_refused_in_french():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = samples.photo((400, 300), quality=90, optimize=True, progressive=True)
    data = data[:2] + samples.jpeg_segment(0xE1, b"Exif\x00\x00" + exif.tobytes()) + data[2:]
    upright = filecheck.check("photo.jpg", data).data
    assert len(upright) > len(data)  # a progressive, optimised original is smaller
    with pytest.raises(FileRefused, match="une fois remise à l'endroit, dépasse"):
        filecheck.check("photo.jpg", data, max_size=len(data))


@pytest.mark.parametrize("data", [
    samples.jpeg()[:-2],  # no end
    samples.jpeg()[:300],  # cut in its headers
    b"\xff\xd8\xff\xe0\x00\x01",  # a segment shorter than its length
])
def test_a_damaged_jpeg_is_refused(data):
    with pytest.raises(FileRefused):
        filecheck.check("photo.jpg", data)


# ---------------------------------------------------------------- PDF: object streams and actions

@pytest.mark.parametrize("data", [
    samples.pdf_with_big_object_stream_dictionary(),
    samples.pdf_with_object_stream(filters=("ASCIIHexDecode", "FlateDecode")),
    samples.pdf_with_object_stream(filters=("ASCII85Decode", "FlateDecode")),
    samples.pdf_with_object_stream(filters=("ASCIIHexDecode",)),
    samples.pdf_with_object_stream(filters=()),
    samples.pdf_with_object_stream(
        filters=("FlateDecode",), dictionary_extra=b"/DecodeParms << /Predictor 12 /Columns 8 >> ",
        encoded=zlib.compress(b"".join(b"\x00" + samples.OBJECT_WITH_SCRIPT.ljust(48)[i:i + 8]
                                       for i in range(0, 48, 8)))),
    samples.pdf_with_action(b"/AA << /O 6 0 R >>"),
    samples.pdf_with_action(b"/AcroForm << /XFA 6 0 R >>"),
    samples.pdf_with_action(b"/OpenAction << /S /SubmitForm /F (http://example.org) >>"),
    samples.pdf_with_action(b"/OpenAction << /S /GoToR /F (autre.pdf) >>"),
    samples.pdf_with_action(b"/OpenAction << /S /Launch /F (calc.exe) >>"),
    samples.pdf_with_action(b"/OpenAction << /S /#4Caunch >>"),
    samples.pdf_with_binary_stream(b"\xff\xd8 7 0 obj << /S /JavaScript /JS (1) >> endobj"),
])
def test_a_pdf_that_acts_by_itself_is_refused(data):
    with pytest.raises(FileRefused, match="contient du code \\(JavaScript\\)") as refused:
        filecheck.check("avis.pdf", data)
    assert refused.value.field == "files"


@pytest.mark.parametrize("data", [
    samples.pdf_with_object_stream(encoded=b"this is not deflated"),
    samples.pdf_with_object_stream(filters=("LZWDecode",), encoded=b"\x80\x0b\x60\x50"),
    samples.pdf_with_object_stream(filters=("ASCIIHexDecode", "FlateDecode"), encoded=b"zz>"),
    samples.pdf_with_object_stream(filters=("FlateDecode",), dictionary_extra=b"/F (ailleurs.bin) "),
    samples.pdf_with_object_stream(filters=("FlateDecode",),
                                   dictionary_extra=b"/DecodeParms << /Predictor 2 >> "),
])
def test_a_pdf_whose_object_stream_cannot_be_decoded_is_refused(data):
    with pytest.raises(FileRefused, match="n'a pas pu être vérifié") as refused:
        filecheck.check("avis.pdf", data)
    assert refused.value.field == "files"


@pytest.mark.parametrize("data", [
    samples.pdf_with_object_stream(b"6 0 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                                   filters=("ASCIIHexDecode", "FlateDecode")),
    samples.pdf_with_object_stream(b"6 0 << /Type /Annot /Subtype /Link /AAB 1 /JSON 2 >>"),
    # A scanned page's bytes may spell « /JS » or « /AA »: they are not names.
    samples.pdf_with_binary_stream(b"\xff\xd8\x01/JS \x02/AA\x00/Launch)\xff\xd9"),
])
def test_a_pdf_without_actions_is_accepted(data):
    assert filecheck.check("avis.pdf", data).data == data


# ---------------------------------------------------------------- damaged files: refused, never a crash

def _odt_with_damaged_content(change) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", bytes(range(256)) * 20, compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(out.getvalue())
    change(data, data.find(b"content.xml") + len(b"content.xml"))
    return bytes(data)


def _flip_deflate(data, at):
    for k in range(at + 2, at + 30):
        data[k] ^= 0xFF


def _bump_first_byte(data, at):
    data[at] = (data[at] + 1) & 0xFF


def _object_stream(raw: bytes, parms: bytes = b"") -> bytes:
    stream = zlib.compress(raw, 9)
    return (b"%PDF-1.5\n1 0 obj\n<< /Type /ObjStm /N 1 /First 0 /Filter /FlateDecode " + parms
            + b" /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream
            + b"\nendstream\nendobj\n%%EOF\n")


@pytest.mark.parametrize("name, data", [
    ("nombre.pdf", b"%PDF-1.4\n1 0 obj\n[ " + b"9" * 4400 + b" ]\nendobj\n%%EOF\n"),
    ("longueur.pdf", b"%PDF-1.4\n1 0 obj\n<< /Length " + b"1" * 5000 + b" >>\nendobj\n%%EOF\n"),
    ("predicteur.pdf", _object_stream(b"\x00" * 100, b"/DecodeParms << /Predictor 12 /Colors 65536 "
                                      b"/BitsPerComponent 65536 /Columns 65536 >>")),
    ("bombe.pdf", _object_stream((b"\x02" + b"\x00" * 100) * (31_000_000 // 101),
                                 b"/DecodeParms << /Predictor 12 /Columns 100 >>")),
    ("bombe-simple.pdf", _object_stream(b" " * 31_000_000)),
    ("deflate.odt", _odt_with_damaged_content(_flip_deflate)),
    ("entete.odt", _odt_with_damaged_content(_bump_first_byte)),
])
def test_a_damaged_file_is_refused_quickly_with_a_french_message(name, data):
    import time

    started = time.process_time()
    with pytest.raises(FileRefused, match="endommagé") as refused:
        filecheck.check(name, data)
    assert time.process_time() - started < 1
    assert refused.value.field == "files"


def test_an_object_stream_with_the_up_predictor_is_still_read():
    inner = b"6 0 << /S /JavaScript /JS (app.alert(1);) >>".ljust(40)
    rows = b"\x00" + inner[:20] + b"\x02" + bytes(a - b & 0xFF for a, b in zip(inner[20:40], inner[:20], strict=True))
    with pytest.raises(FileRefused, match="JavaScript"):
        filecheck.check("script.pdf", _object_stream(rows, b"/DecodeParms << /Predictor 12 /Columns 20 >>"))


@pytest.mark.parametrize("name, base", [("a.pdf", samples.pdf_with_object_stream(b"1 0 /Type /Font")),
                                        ("a.pdf", samples.pdf()), ("a.odt", samples.odt())])
def test_random_damage_is_refused_or_accepted_never_a_crash(name, base):
    import random

    rng = random.Random(20261122)
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.1:
            data = data[:rng.randrange(8, len(data))]
        try:
            filecheck.check(name, bytes(data))
        except FileRefused:
            pass
