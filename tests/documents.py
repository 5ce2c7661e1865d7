"""Small documents of every accepted type, and the bad files an attachment must refuse."""

from __future__ import annotations

import io
import zipfile

from openpyxl import Workbook

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
       b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
       b"trailer << /Root 1 0 R >>\n%%EOF\n")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
# The start of a Linux program and of a Windows one: what a renamed executable holds.
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200

CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                 b'package/2006/content-types"/>')


def docx(document: bytes = b"<w:document/>", *, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Return a Word document whose body is `document` (deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=level) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", b"<Relationships/>")
        archive.writestr("word/document.xml", document)
    return out.getvalue()


def zip_bomb_docx(unpacked_mb: int = 60) -> bytes:
    """Return a DOCX of a few tens of kilobytes whose body unpacks to `unpacked_mb` MB."""
    return docx(b"\x00" * (unpacked_mb * 1_000_000))


def xlsx() -> bytes:
    """Return a one-sheet workbook as openpyxl writes it."""
    book = Workbook()
    book.active.append(["Business case", 250000])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def odt() -> bytes:
    """Return an OpenDocument text: its stored mimetype member comes first."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.text",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", b"<office:document-content/>",
                         compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
