"""Files for the upload tests, generated here rather than kept as binaries:
good ones, and each kind of bad input a family (or an attacker) may send."""

from __future__ import annotations

import functools
import io
import zipfile
import zlib

from PIL import Image

MB = 1024 * 1024


def pdf(text: str = "Justificatif de domicile", extra_objects: list[bytes] | None = None,
        catalog_extra: bytes = b"", pad_to: int = 0) -> bytes:
    """A small, valid one-page PDF (with a cross-reference table)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ] + list(extra_objects or [])
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    if pad_to:
        # A comment: the file stays a valid PDF, only bigger.
        missing = pad_to - out.tell() - 200
        if missing > 0:
            out.write(b"%" + b"x" * (missing - 2) + b"\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
              .encode())
    data = out.getvalue()
    if pad_to and len(data) < pad_to:
        data = data[:-6] + b"%" * (pad_to - len(data)) + data[-6:]
    return data


def pdf_of_size(size: int) -> bytes:
    data = pdf(pad_to=size)
    assert len(data) == size, len(data)
    return data


def pdf_with_javascript() -> bytes:
    return pdf(catalog_extra=b"/OpenAction 6 0 R ",
               extra_objects=[b"<< /S /JavaScript /JS (app.alert('bonjour');) >>"])


def pdf_with_hidden_javascript() -> bytes:
    """The name spelled with #xx escapes, as some malware does."""
    return pdf(catalog_extra=b"/OpenAction 6 0 R ",
               extra_objects=[b"<< /S /J#61vaScript /J#53 (app.alert(1);) >>"])


def pdf_with_javascript_in_object_stream() -> bytes:
    inner = zlib.compress(b"6 0 << /S /JavaScript /JS (app.alert(1);) >>")
    return pdf(extra_objects=[
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length "
        + str(len(inner)).encode() + b" >>\nstream\n" + inner + b"\nendstream"
    ])


def image(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color=(200, 30, 30),
          exif: Image.Exif | None = None) -> bytes:
    picture = Image.new("RGB", size, color)
    # A lighter corner, to tell which way up the picture is.
    for x in range(size[0] // 4):
        for y in range(size[1] // 4):
            picture.putpixel((x, y), (250, 250, 250))
    out = io.BytesIO()
    options = {"exif": exif.tobytes()} if exif is not None else {}
    picture.save(out, fmt, **options)
    return out.getvalue()


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 12"
    if orientation:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (47.0, 54.0, 12.5)
    gps[3] = "E"
    gps[4] = (1.0, 54.0, 33.2)
    return exif


def jpeg_with_gps(orientation: int | None = None) -> bytes:
    return image("JPEG", exif=gps_exif(orientation))


def png_with_gps() -> bytes:
    return image("PNG", exif=gps_exif())


def png() -> bytes:
    return image("PNG")


def jpeg() -> bytes:
    return image("JPEG")


def html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def svg() -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
            b"<script>alert(2)</script></svg>")


def windows_executable() -> bytes:
    header = bytearray(512)
    header[0:2] = b"MZ"
    header[0x3C:0x40] = (0x80).to_bytes(4, "little")
    header[0x80:0x84] = b"PE\x00\x00"
    return bytes(header)


def linux_executable() -> bytes:
    return b"\x7fELF\x02\x01\x01" + bytes(57) + b"\x00" * 256


def doc() -> bytes:
    """The start of a Word 97-2003 document (an OLE compound file)."""
    data = bytearray(4096)
    data[0:8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
    data[512:516] = b"\xEC\xA5\xC1\x00"
    return bytes(data)


def doc_with_macros() -> bytes:
    data = bytearray(doc())
    name = "_VBA_PROJECT".encode("utf-16-le")
    data[1024:1024 + len(name)] = name
    return bytes(data)


def _zip(members: list[tuple[str, bytes, int]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content, method in members:
            archive.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), content,
                             compress_type=method)
    return out.getvalue()


def odt(extra: list[tuple[str, bytes, int]] | None = None) -> bytes:
    return _zip([
        ("mimetype", b"application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED),
        ("content.xml", b'<?xml version="1.0"?><office:document-content/>', zipfile.ZIP_DEFLATED),
        ("META-INF/manifest.xml", b'<?xml version="1.0"?><manifest:manifest/>',
         zipfile.ZIP_DEFLATED),
    ] + list(extra or []))


def odt_bomb(inflated: int = 80 * MB) -> bytes:
    """A small .odt whose one part inflates to ``inflated`` bytes of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.text")
        info = zipfile.ZipInfo("content.xml")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            block = bytes(MB)
            for _ in range(inflated // MB):
                member.write(block)
    return out.getvalue()


def odt_with_macros() -> bytes:
    return odt([("Basic/Standard/Module1.xml", b"<script:module/>", zipfile.ZIP_DEFLATED)])


def docx() -> bytes:
    return _zip([
        ("[Content_Types].xml", b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
         b'.org/package/2006/content-types"><Override PartName="/word/document.xml"/></Types>',
         zipfile.ZIP_DEFLATED),
        ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>', zipfile.ZIP_DEFLATED),
        ("word/document.xml", b'<?xml version="1.0"?><w:document/>', zipfile.ZIP_DEFLATED),
    ])


def jpeg_with_html() -> bytes:
    """A real JPEG with a web page glued after it (a polyglot)."""
    return jpeg() + b"<html><script>alert(1)</script></html>"


def png_with_zip() -> bytes:
    """A real PNG with an archive glued after it."""
    return png() + _zip([("payload.exe", windows_executable(), zipfile.ZIP_DEFLATED)])


def jpeg_with_script_in_comment() -> bytes:
    """A JPEG whose comment segment carries a script (stays a valid JPEG)."""
    data = jpeg()
    comment = b"<script>alert(1)</script>"
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return data[:2] + segment + data[2:]


# ---------------------------------------------------------------- photos with metadata

def jpeg_segment(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return (len(body).to_bytes(4, "big") + kind + body
            + zlib.crc32(kind + body).to_bytes(4, "big"))


@functools.cache
def srgb_profile() -> bytes:
    """One sRGB profile for the whole run: a new one carries the second it was made."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo(size: tuple[int, int] = (320, 240), fmt: str = "JPEG", **options) -> bytes:
    """A picture with some detail (not one flat colour), with a colour profile."""
    picture = Image.new("RGB", size)
    picture.putdata([((x * 7) % 256, (y * 5) % 256, (x * y) % 256)
                     for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    picture.save(out, fmt, icc_profile=srgb_profile(), **options)
    return out.getvalue()


XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF><rdf:Description exif:GPSLatitude="47,54.2N" tiff:Make="PhoneMaker"/></rdf:RDF>'
       b'</x:xmpmeta><?xpacket end="w"?>')


def jpeg_with_metadata(trailer: bytes = b"") -> tuple[bytes, bytes]:
    """(a phone's photo, the same without its metadata): EXIF with a GPS position,
    XMP, Photoshop IPTC, a comment, a maker's APP segment and FlashPix data
    inserted after the JFIF header of a plain JPEG (which keeps its ICC
    profile); ``trailer`` goes after the end (a motion photo's video)."""
    clean = photo()
    assert clean[2:4] == b"\xff\xe0"
    app0_end = 4 + int.from_bytes(clean[4:6], "big")
    metadata = b"".join([
        jpeg_segment(0xE1, b"Exif\x00\x00" + gps_exif().tobytes()),
        jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP),
        jpeg_segment(0xED, b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0cPhoneMaker"),
        jpeg_segment(0xFE, b"Taken with PhoneMaker"),
        jpeg_segment(0xE9, b"PhoneMaker private data"),
        jpeg_segment(0xE2, b"FPXR\x00\x00" + bytes(20)),  # FlashPix, not the ICC profile
    ])
    return clean[:app0_end] + metadata + clean[app0_end:] + trailer, clean


def png_with_metadata() -> tuple[bytes, bytes]:
    """(a PNG with eXIf, tEXt, iTXt, zTXt and tIME chunks, the same without them)."""
    clean = photo(fmt="PNG", compress_level=1)  # not what Pillow would write again
    ihdr_end = 8 + 12 + 13
    before = b"".join([
        png_chunk(b"eXIf", gps_exif().tobytes()),
        png_chunk(b"tEXt", b"Author\x00PhoneMaker"),
        png_chunk(b"tIME", bytes.fromhex("07ea0b16100000")),
    ])
    after = b"".join([
        png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP),
        png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"PhoneMaker")),
    ])
    iend = clean.rindex(b"IEND") - 4
    return clean[:ihdr_end] + before + clean[ihdr_end:iend] + after + clean[iend:], clean


def mp4() -> bytes:
    """The start of a short video, as phones append to a motion photo."""
    return (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
            + b"\x00\x00\x04\x08mdat" + bytes(range(256)) * 4)


def samsung_motion_trailer() -> bytes:
    return b"\x00\x00\x30\x0aMotionPhoto_Data" + mp4() + b"SEFH" + bytes(12) + b"SEFT"


def scan_data(jpeg_data: bytes) -> bytes:
    """The compressed picture of a JPEG: from its first scan to its end."""
    start = jpeg_data.index(b"\xff\xda")
    return jpeg_data[start:jpeg_data.index(b"\xff\xd9", start) + 2]


# ---------------------------------------------------------------- PDFs with object streams

OBJECT_WITH_SCRIPT = b"6 0 << /S /JavaScript /JS (app.alert(1);) >>"


def pdf_with_object_stream(inner: bytes = OBJECT_WITH_SCRIPT, filters: tuple[str, ...] = ("FlateDecode",),
                           dictionary_extra: bytes = b"", encoded: bytes | None = None) -> bytes:
    """A PDF whose object stream holds ``inner``, encoded by ``filters`` (the
    first one listed is the last applied, as in the PDF's /Filter array)."""
    data = inner
    for name in reversed(filters):
        if name == "FlateDecode":
            data = zlib.compress(data)
        elif name == "ASCIIHexDecode":
            data = data.hex().encode() + b">"
        elif name == "ASCII85Decode":
            import base64

            data = base64.a85encode(data, wrapcol=64) + b"~>"
    data = encoded if encoded is not None else data
    names = b" ".join(b"/" + n.encode() for n in filters)
    return pdf(extra_objects=[
        b"<< /Type /ObjStm /N 1 /First 4 /Filter [" + names + b"] " + dictionary_extra
        + b"/Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream"
    ])


def pdf_with_big_object_stream_dictionary() -> bytes:
    """The dictionary of the object stream made longer than 2000 characters."""
    return pdf_with_object_stream(dictionary_extra=b"/Padding [" + b"0 " * 1500 + b"] "
                                  + b"/Note (" + b"x" * 3000 + b") ")


def pdf_with_action(action: bytes) -> bytes:
    return pdf(catalog_extra=action + b" ")


def pdf_with_binary_stream(content: bytes) -> bytes:
    """A PDF with an image whose compressed data is ``content`` (as a scan is)."""
    return pdf(extra_objects=[
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length " + str(len(content)).encode()
        + b" >>\nstream\n" + content + b"\nendstream"
    ])
