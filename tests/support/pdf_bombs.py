"""Small PDFs that cost a reader a lot: pages, text, CPU time or memory, far beyond their size."""

from __future__ import annotations

import zlib

from tests.support.pdfs import assemble

_CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
_RESOURCES = b"/Resources << /Font << /F1 3 0 R >> >>"


def _stream(content: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(content, 9)
    header = b"<< " + extra + b" /Length %d /Filter /FlateDecode >>" % len(packed)
    return header + b"\nstream\n" + packed + b"\nendstream"


def _pages(count: int, contents: int, resources: bytes = _RESOURCES) -> list[bytes]:
    """The page tree (object 2) and `count` pages (objects 5…) sharing content object `contents`."""
    kids = b" ".join(b"%d 0 R" % (5 + index) for index in range(count))
    tree = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % count
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        + resources
        + b" /Contents %d 0 R >>" % contents
    )
    return [tree, *([page] * count)]


def many_pages(count: int) -> bytes:
    """`count` pages that all show one word: a few bytes each."""
    tree, *pages = _pages(count, contents=4)
    return assemble(
        [_CATALOG, tree, _FONT, _stream(b"BT /F1 12 Tf 72 720 Td (Seite) Tj ET"), *pages]
    )


def text_bomb(characters: int, pages: int = 1) -> bytes:
    """Pages sharing one compressed stream that inflates to `characters` letters of text each."""
    content = b"BT /F1 12 Tf 72 720 Td (" + b"A" * characters + b") Tj ET"
    tree, *page_objects = _pages(pages, contents=4)
    return assemble([_CATALOG, tree, _FONT, _stream(content), *page_objects])


def cpu_bomb(invocations: int = 20_000, operators: int = 3_000) -> bytes:
    """One page that draws a form `invocations` times; every drawing re-parses its
    `operators` path operators, and yields one letter of text (so memory stays small)."""
    form = b"BT /F1 1 Tf (x) Tj ET\n" + b"0 0 m 1 1 l S\n" * operators
    page_content = b"q /X0 Do Q\n" * invocations
    resources = b"/Resources << /Font << /F1 3 0 R >> /XObject << /X0 6 0 R >> >>"
    tree, page = _pages(1, contents=7, resources=resources)
    form_object = _stream(form, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] " + _RESOURCES)
    return assemble([_CATALOG, tree, _FONT, b"<< >>", page, form_object, _stream(page_content)])
