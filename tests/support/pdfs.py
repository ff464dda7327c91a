"""PDFs made in code: with real text per page, scanned (images only), corrupt, and password
protected."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter


def text_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of text (Helvetica, ASCII) on each page."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * index for index in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{page_id} 0 R" for page_id in page_ids).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for index, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 14 Tf 72 720 Td ({escaped}) Tj ET".encode("ascii")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_ids[index] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return assemble(objects)


def assemble(objects: list[bytes]) -> bytes:
    """A PDF file of `objects`, numbered from 1 (1 is the catalog), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def numbered_pdf(page_count: int) -> bytes:
    """`page_count` pages saying "Seite 1", "Seite 2", …"""
    return text_pdf([f"Seite {number} von {page_count}" for number in range(1, page_count + 1)])


def scanned_pdf(page_count: int = 1) -> bytes:
    """`page_count` pages that each show a small grey image and no text, like a scan."""
    image = b"q 200 0 0 200 72 500 cm BI /W 2 /H 2 /CS /G /BPC 8 ID \x00\xff\xff\x00 EI Q"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page_ids = [3 + 2 * index for index in range(page_count)]
    kids = " ".join(f"{page_id} 0 R" for page_id in page_ids).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % page_count)
    for page_id in page_ids:
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << >> "
            b"/Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(image) + image + b"\nendstream")
    return assemble(objects)


def corrupt_pdf() -> bytes:
    """Starts like a PDF (passes the upload check) but cannot be read."""
    return b"%PDF-1.7\n" + b"\x00garbage, no objects, no xref\n" * 40


def encrypted_pdf(password: str = "geheim") -> bytes:
    """A valid PDF protected by a user password."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(["Vertraulich"]))))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
