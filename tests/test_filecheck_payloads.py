"""Other files hidden in what families send: an archive inside a photo, a
program inside a document, a PDF that acts as soon as it is opened."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image

from citoyen import filecheck
from citoyen.filecheck import FileRefused
from tests import samples

HIDDEN_IN_IMAGE = "contient autre chose qu'une image"
HIDDEN_IN_DOCUMENT = "contient autre chose qu'un document"
ACTS_BY_ITSELF = "contient du code \\(JavaScript\\), une action automatique"


# ---------------------------------------------------------------- photos

def _small_png(**options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, "PNG", **options)
    return out.getvalue()


def _before_iend(png: bytes, *chunks: bytes) -> bytes:
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + b"".join(chunks) + png[iend:]


def _archive_at(offset: int, trailing: int) -> bytes:
    """A ZIP holding a program, its offsets moved as if it started ``offset``
    bytes into a file, its comment covering the ``trailing`` bytes after it:
    the file then opens as this archive in any ZIP reader."""
    program = [("facture.exe", samples.windows_executable(), zipfile.ZIP_DEFLATED)]
    raw = bytearray(samples._zip(program))
    end = raw.rindex(b"PK\x05\x06")
    struct.pack_into("<I", raw, end + 16, struct.unpack_from("<I", raw, end + 16)[0] + offset)
    central = raw.index(b"PK\x01\x02")
    local = struct.unpack_from("<I", raw, central + 42)[0]
    struct.pack_into("<I", raw, central + 42, local + offset)
    struct.pack_into("<H", raw, end + 20, trailing)
    return bytes(raw)


def _png_with_archive_in_chunk(kind: bytes) -> bytes:
    png = _small_png()
    head = png[:png.rindex(b"IEND") - 4]
    archive = _archive_at(len(head) + 8, 4 + 12)  # after it: the chunk's CRC and IEND
    return head + samples.png_chunk(kind, archive) + png[len(head):]


def _opens_as_archive(data: bytes) -> bool:
    try:
        return bool(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except zipfile.BadZipFile:
        return False


@pytest.mark.parametrize("kind", [b"zzZp", b"prVW", b"vpAg"])
def test_a_png_hiding_an_archive_in_a_private_chunk_is_refused(kind):
    data = _png_with_archive_in_chunk(kind)
    assert Image.open(io.BytesIO(data)).size == (40, 30)
    assert _opens_as_archive(data)
    with pytest.raises(FileRefused, match=HIDDEN_IN_IMAGE) as refused:
        filecheck.check("justificatif.png", data)
    assert refused.value.field == "files"


@pytest.mark.parametrize("payload", [samples.windows_executable(), samples.linux_executable(),
                                     samples.pdf()])
def test_a_png_hiding_a_program_in_a_private_chunk_is_refused(payload):
    data = _before_iend(_small_png(), samples.png_chunk(b"prVW", payload))
    with pytest.raises(FileRefused, match=HIDDEN_IN_IMAGE):
        filecheck.check("justificatif.png", data)


def test_a_png_keeps_only_the_chunks_that_show_it():
    clean = _small_png()
    # Apple's iDOT (screenshots), an editor's private data, an orientation
    # hint: none is needed to show the picture.
    data = _before_iend(clean, samples.png_chunk(b"iDOT", bytes(28)),
                        samples.png_chunk(b"mkBF", b"\xfa\xde" + bytes(40)),
                        samples.png_chunk(b"orNT", b"\x01"))
    assert filecheck.check("capture.png", data).data == clean


def test_a_png_keeps_its_colour_and_size_chunks():
    ihdr_end = 8 + 12 + 13
    clean = _small_png(dpi=(300, 300), transparency=(0, 0, 0))
    known = b"".join([samples.png_chunk(b"gAMA", (45455).to_bytes(4, "big")),
                      samples.png_chunk(b"cHRM", bytes(32)),
                      samples.png_chunk(b"sBIT", b"\x08\x08\x08")])
    data = clean[:ihdr_end] + known + clean[ihdr_end:]
    assert b"pHYs" in data and b"tRNS" in data
    assert filecheck.check("scan.png", data).data == data


def test_a_png_hiding_an_archive_in_its_colour_profile_is_refused():
    png = _small_png(icc_profile=samples.srgb_profile())
    start = png.index(b"iCCP") - 4
    length = int.from_bytes(png[start:start + 4], "big")
    end = start + 12 + length
    body = png[start + 8:end - 4]
    following = len(png) - end + 4  # the CRC, then the rest of the PNG
    archive = _archive_at(start + 8 + len(body), following)
    data = png[:start] + samples.png_chunk(b"iCCP", body + archive) + png[end:]
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == samples.srgb_profile()
    assert _opens_as_archive(data)
    with pytest.raises(FileRefused, match=HIDDEN_IN_IMAGE):
        filecheck.check("scan.png", data)


def test_a_jpeg_hiding_an_archive_in_its_jfif_segment_is_refused():
    jpeg = samples.jpeg()
    assert jpeg[2:4] == b"\xff\xe0"
    at = 4 + int.from_bytes(jpeg[4:6], "big")
    jfif = b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"
    archive = _archive_at(at + 4 + len(jfif), len(jpeg) - at)
    data = jpeg[:at] + samples.jpeg_segment(0xE0, jfif + archive) + jpeg[at:]
    assert Image.open(io.BytesIO(data)).size == (64, 48)
    assert _opens_as_archive(data)
    with pytest.raises(FileRefused, match=HIDDEN_IN_IMAGE):
        filecheck.check("photo.jpg", data)


# ---------------------------------------------------------------- .odt and .doc

DEFLATED = zipfile.ZIP_DEFLATED
STORED = zipfile.ZIP_STORED


def _ole(stream_name: str) -> bytes:
    """The start of an OLE compound file naming one stream."""
    data = bytearray(samples.doc())
    name = stream_name.encode("utf-16-le")
    data[1024:1024 + len(name)] = name
    return bytes(data)


def libreoffice_odt(extra: list[tuple[str, bytes, int]] | None = None) -> bytes:
    """The parts LibreOffice Writer writes: settings, thumbnail, pictures, an
    embedded chart with its replacement picture, an embedded font."""
    xml = b'<?xml version="1.0" encoding="UTF-8"?><office:document/>'
    return samples._zip([
        ("mimetype", b"application/vnd.oasis.opendocument.text", STORED),
        ("Configurations2/", b"", STORED),
        ("Configurations2/accelerator/", b"", STORED),
        ("Configurations2/images/Bitmaps/", b"", STORED),
        ("Configurations2/toolbar/", b"", STORED),
        ("manifest.rdf", xml, DEFLATED),
        ("meta.xml", xml, DEFLATED),
        ("settings.xml", xml, DEFLATED),
        ("content.xml", xml, DEFLATED),
        ("styles.xml", xml, DEFLATED),
        ("Thumbnails/thumbnail.png", samples.png(), DEFLATED),
        ("Pictures/10000000000000400000003061B0E2E7.jpg", samples.jpeg(), STORED),
        ("Pictures/100002010000004000000030D7A1A1C2.png", samples.png(), STORED),
        ("Pictures/1000000000000040000000304B2B4D3D.svg", samples.svg(), DEFLATED),
        ("Pictures/2000000F0000123400000ABC1F2E3D4C.svm", b"VCLMTF\x01\x00" + bytes(60), DEFLATED),
        ("Pictures/2000000700000CA00000082B9E6E0A3B.wmf", b"\xd7\xcd\xc6\x9a" + bytes(60),
         DEFLATED),
        ("Pictures/3000000400000C8A00000B4F12AB34CD.pdf", samples.pdf("Annexe"), DEFLATED),
        ("Object 1/content.xml", xml, DEFLATED),
        ("Object 1/styles.xml", xml, DEFLATED),
        ("Object 1/meta.xml", xml, DEFLATED),
        ("ObjectReplacements/Object 1", b"VCLMTF\x01\x00" + bytes(60), DEFLATED),
        ("Object 2", samples.doc(), DEFLATED),  # an OLE object from Word, without macros
        ("Fonts/LiberationSerif-Regular.ttf", b"\x00\x01\x00\x00\x00\x10" + bytes(60), DEFLATED),
        ("layout-cache", b"\x02\x00\x01\x00" + bytes(60), DEFLATED),
        ("META-INF/manifest.xml", xml, DEFLATED),
    ] + list(extra or []))


def word_odt() -> bytes:
    """What Word writes when it saves as .odt."""
    xml = b'<?xml version="1.0" encoding="UTF-8"?><office:document/>'
    return samples._zip([
        ("mimetype", b"application/vnd.oasis.opendocument.text", STORED),
        ("content.xml", xml, DEFLATED),
        ("styles.xml", xml, DEFLATED),
        ("meta.xml", xml, DEFLATED),
        ("settings.xml", xml, DEFLATED),
        ("Pictures/image1.png", samples.png(), DEFLATED),
        ("Pictures/image2.jpeg", samples.jpeg(), DEFLATED),
        ("META-INF/manifest.xml", xml, DEFLATED),
    ])


@pytest.mark.parametrize("data", [libreoffice_odt(), word_odt(), samples.odt()])
def test_real_odt_documents_are_accepted_as_sent(data):
    assert filecheck.check("attestation.odt", data).data == data


@pytest.mark.parametrize("extra", [
    # By name, whatever they hold.
    [("facture.exe", samples.windows_executable(), DEFLATED)],
    [("Pictures/setup.scr", samples.windows_executable(), STORED)],
    [("Pictures/lancer.vbs", b'CreateObject("WScript.Shell").Run "calc"', DEFLATED)],
    [("script.JS", b"new ActiveXObject('WScript.Shell')", DEFLATED)],
    [("Pictures/photo.png.exe ", b"harmless text", DEFLATED)],
    [("documents.zip", b"just text", DEFLATED)],
    # By content, whatever their name.
    [("Pictures/photo.png", samples.windows_executable(), STORED)],
    [("Pictures/photo.jpg", samples.linux_executable(), DEFLATED)],
    [("Thumbnails/preview.png", samples._zip([("a.exe", samples.windows_executable(), DEFLATED)]),
      STORED)],
    [("Object 3", samples.odt_with_macros(), DEFLATED)],
    [("Object 3", samples.docx(), DEFLATED)],
    [("Pictures/image.png", b"Rar!\x1a\x07\x01\x00" + bytes(40), STORED)],
    [("Pictures/image.png", b"7z\xbc\xaf\x27\x1c" + bytes(40), STORED)],
    # An OLE object that is a packaged file.
    [("Object 4", _ole("\x01Ole10Native"), DEFLATED)],
    # A PDF that acts by itself.
    [("Pictures/annexe.pdf", samples.pdf_with_javascript(), DEFLATED)],
])
def test_an_odt_carrying_a_program_or_an_archive_is_refused(extra):
    with pytest.raises(FileRefused, match=HIDDEN_IN_DOCUMENT) as refused:
        filecheck.check("attestation.odt", libreoffice_odt(extra))
    assert refused.value.field == "files"


def test_an_odt_carrying_a_program_is_refused_as_the_review_found():
    data = samples.odt([("facture.exe", samples.windows_executable(), DEFLATED),
                        ("Pictures/setup.scr", samples.windows_executable(), STORED)])
    with pytest.raises(FileRefused, match=HIDDEN_IN_DOCUMENT):
        filecheck.check("attestation.odt", data)


def test_a_doc_carrying_a_packaged_file_is_refused():
    with pytest.raises(FileRefused, match=HIDDEN_IN_DOCUMENT):
        filecheck.check("attestation.doc", _ole("\x01Ole10Native"))


@pytest.mark.parametrize("extra", [
    ("Basic/Standard/Module1.xml", b"<m/>", DEFLATED),
    ("Object 4", samples.doc_with_macros(), DEFLATED),  # an OLE object from Word, with macros
])
def test_macros_are_still_refused_as_macros(extra):
    with pytest.raises(FileRefused, match="contient des macros"):
        filecheck.check("macros.odt", libreoffice_odt([extra]))


# ---------------------------------------------------------------- PDF: actions on opening

def _object_stream(inner: bytes) -> bytes:
    encoded = zlib.compress(inner)
    first = inner.index(b" ", inner.index(b" ") + 1) + 1
    return (b"<< /Type /ObjStm /N 1 /First " + str(first).encode() + b" /Filter /FlateDecode"
            + b" /Length " + str(len(encoded)).encode() + b" >>\nstream\n" + encoded
            + b"\nendstream")


@pytest.mark.parametrize("action", [
    b"<< /S /URI /URI (https://evil.example/phish) >>",
    b"<< /S /ImportData /F (data.fdf) >>",
    b"<< /S /GoToE /T << /R /C /N (x) >> >>",
    b"<< /S /Rendition /R 6 0 R >>",
    b"<< /S /Named /N /Print >>",
    b"<< /S /Sound /Sound 6 0 R >>",
    b"<< /S /Movie /T (film) >>",
    b"<< /S /Hide /T (champ) >>",
    b"<< /S /SetOCGState /State [/OFF 6 0 R] >>",
    b"<< /S /ResetForm >>",
    b"<< /S /Thread /D 0 >>",
    b"<< /S /GoTo3DView /TA 6 0 R /V 0 >>",
    b"<< /Type /Action /S /#55RI /URI (https://evil.example) >>",
    b"<< /S /GoTo /D [3 0 R /Fit] /Next << /S /URI /URI (https://evil.example) >> >>",
    b"<< /D [3 0 R /Fit] >>",
])
def test_a_pdf_acting_on_opening_is_refused(action):
    data = samples.pdf_with_action(b"/OpenAction " + action)
    with pytest.raises(FileRefused, match=ACTS_BY_ITSELF) as refused:
        filecheck.check("avis.pdf", data)
    assert refused.value.field == "files"


@pytest.mark.parametrize("data", [
    # The action in an object of its own.
    samples.pdf(catalog_extra=b"/OpenAction 6 0 R ",
                extra_objects=[b"<< /S /URI /URI (https://evil.example) >>"]),
    # Through two references.
    samples.pdf(catalog_extra=b"/OpenAction 6 0 R ",
                extra_objects=[b"7 0 R", b"<< /S /Named /N /Print >>"]),
    # The action in a compressed object stream.
    samples.pdf(catalog_extra=b"/OpenAction 7 0 R ",
                extra_objects=[_object_stream(b"7 0 << /S /URI /URI (https://evil.example) >>")]),
    # The catalog itself in a compressed object stream.
    samples.pdf(extra_objects=[_object_stream(
        b"7 0 << /Type /Catalog /Pages 2 0 R /OpenAction << /S /ImportData /F (x.fdf) >> >>")]),
    # The same object defined twice (an update appended): both are read.
    samples.pdf(catalog_extra=b"/OpenAction 6 0 R ", extra_objects=[b"[3 0 R /Fit]"])
    + b"6 0 obj\n<< /S /URI /URI (https://evil.example) >>\nendobj\n",
    # A name spelled with #xx escapes.
    samples.pdf_with_action(b"/Op#65nAction << /S /URI /URI (https://evil.example) >>"),
    # A reference to an object that does not exist, or to itself.
    samples.pdf(catalog_extra=b"/OpenAction 6 0 R ", extra_objects=[b"6 0 R"]),
])
def test_a_pdf_acting_on_opening_through_a_reference_is_refused(data):
    with pytest.raises(FileRefused, match="n'est pas accepté|n'a pas pu être vérifié"):
        filecheck.check("avis.pdf", data)


@pytest.mark.parametrize("data", [
    # Opening at a page, as LibreOffice and scanners write it.
    samples.pdf_with_action(b"/OpenAction [3 0 R /XYZ null null 0]"),
    samples.pdf_with_action(b"/OpenAction [3 0 R /Fit]"),
    samples.pdf(catalog_extra=b"/OpenAction 6 0 R ", extra_objects=[b"[3 0 R /FitH 792]"]),
    samples.pdf_with_action(b"/OpenAction << /S /GoTo /D [3 0 R /Fit] >>"),
    samples.pdf_with_action(b"/OpenAction << /Type /Action /S /GoTo /D (page2) >>"),
    samples.pdf(catalog_extra=b"/OpenAction 7 0 R ",
                extra_objects=[_object_stream(b"7 0 << /S /GoTo /D [3 0 R /Fit] >>")]),
    # A link to a web site, followed only when clicked.
    samples.pdf(extra_objects=[b"<< /Type /Annot /Subtype /Link /Rect [0 0 100 20] "
                               b"/A << /S /URI /URI (https://www.service-public.fr) >> >>"]),
])
def test_a_pdf_opening_at_a_page_is_accepted(data):
    assert filecheck.check("avis.pdf", data).data == data
