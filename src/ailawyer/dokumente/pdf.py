"""PDF checks at upload (by content, not by name) and text extraction in the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader

# Every PDF starts with this; many writers put a few bytes of garbage before it, which
# readers accept within the first kilobyte.
PDF_MAGIC = b"%PDF-"
MAGIC_SEARCH_BYTES = 1024


def looks_like_pdf(head: bytes) -> bool:
    """Whether the first bytes of a file carry the PDF signature."""
    return PDF_MAGIC in head[:MAGIC_SEARCH_BYTES]


class PdfEncryptedError(Exception):
    """The PDF is password protected; we do not try to open it."""


@dataclass(frozen=True)
class ExtractedPdf:
    page_count: int
    text: str


async def extract_pdf(
    path: Path, on_page: Callable[[int, int], Awaitable[None]] | None = None
) -> ExtractedPdf:
    """Page count and text of the PDF at `path`; corrupt or encrypted files raise.

    pypdf is CPU-bound; it runs in a thread page by page so the worker's event loop
    keeps renewing job locks (a blocked loop would let the job look stalled).
    """
    reader = await asyncio.to_thread(PdfReader, path, strict=False)
    if reader.is_encrypted:
        raise PdfEncryptedError("the PDF is encrypted")
    count = await asyncio.to_thread(len, reader.pages)
    texts: list[str] = []
    for index in range(count):
        page = reader.pages[index]
        texts.append(await asyncio.to_thread(page.extract_text))
        if on_page is not None:
            await on_page(index + 1, count)
    # PostgreSQL text cannot hold NUL characters, which some PDFs' text contains.
    text = "\n\n".join(texts).replace("\x00", "")
    return ExtractedPdf(page_count=count, text=text)
