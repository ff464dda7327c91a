"""PDF checks at upload (by content, not by name) and text extraction in the worker."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ailawyer.dokumente.pdf_reader import MEMORY_EXIT_CODE

# Every PDF starts with this; many writers put a few bytes of garbage before it, which
# readers accept within the first kilobyte.
PDF_MAGIC = b"%PDF-"
MAGIC_SEARCH_BYTES = 1024


def looks_like_pdf(head: bytes) -> bool:
    """Whether the first bytes of a file carry the PDF signature."""
    return PDF_MAGIC in head[:MAGIC_SEARCH_BYTES]


class PdfEncryptedError(Exception):
    """The PDF is password protected; we do not try to open it."""


class PdfUnreadableError(Exception):
    """pypdf could not read the PDF; the message names pypdf's error."""


class PdfLimitExceededError(Exception):
    """Reading the PDF would take more than a limit allows; the message is German, for users.

    Trying again cannot help: the same file reaches the same limit.
    """


@dataclass(frozen=True)
class PdfLimits:
    """What reading one PDF may take (settings PDF_MAX_*)."""

    max_pages: int
    max_text_chars: int
    max_seconds: float
    max_memory_mb: int


@dataclass(frozen=True)
class ExtractedPdf:
    page_count: int
    text: str


def _number_de(value: float) -> str:
    return f"{value:,.0f}".replace(",", ".")


def _refusal(report: dict[str, Any]) -> PdfLimitExceededError:
    kind, limit = report["refused"], report.get("limit", 0)
    reasons = {
        "pages": f"Das PDF hat {_number_de(report.get('actual', 0))} Seiten; "
        f"verarbeitet werden höchstens {_number_de(limit)}.",
        "text": f"Das PDF enthält mehr als {_number_de(limit)} Zeichen Text.",
        "memory": f"Das PDF braucht zum Lesen mehr als {_number_de(limit)} MB Arbeitsspeicher.",
        "structure": "Das PDF ist zu verschachtelt aufgebaut, um es zu lesen.",
    }
    return PdfLimitExceededError(reasons.get(kind, "Das PDF ist zu groß, um es zu lesen."))


async def extract_pdf(
    path: Path,
    on_page: Callable[[int, int], Awaitable[None]] | None = None,
    *,
    limits: PdfLimits,
) -> ExtractedPdf:
    """Page count and text of the PDF at `path`; corrupt, encrypted or too big files raise.

    pypdf runs in a child process (`pdf_reader`) with its own memory and CPU limits,
    ended after `limits.max_seconds`: a file of a few hundred bytes can hold streams that
    inflate to gigabytes of text or make pypdf loop for hours, and neither a thread nor
    pypdf's own limits can stop that. The child reports page by page, so the worker's
    event loop stays free to renew job locks and `on_page` reports progress.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ailawyer.dokumente.pdf_reader",
        str(path),
        str(limits.max_pages),
        str(limits.max_text_chars),
        str(limits.max_memory_mb),
        str(math.ceil(limits.max_seconds) + 1),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        # One line holds one page's text: at most the text limit, up to 6 bytes a character.
        limit=6 * limits.max_text_chars + 64 * 1024,
    )
    try:
        async with asyncio.timeout(limits.max_seconds):
            return await _read_reports(process, on_page, limits)
    except TimeoutError:
        raise PdfLimitExceededError(
            f"Das Lesen des PDFs dauert länger als {_number_de(limits.max_seconds)} Sekunden."
        ) from None
    finally:
        # Also on cancellation (worker shutdown): no reader outlives its job.
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _read_reports(
    process: asyncio.subprocess.Process,
    on_page: Callable[[int, int], Awaitable[None]] | None,
    limits: PdfLimits,
) -> ExtractedPdf:
    assert process.stdout is not None
    count = 0
    texts: list[str] = []
    while line := await process.stdout.readline():
        report = json.loads(line)
        if "pages" in report:
            count = report["pages"]
        elif "text" in report:
            texts.append(report["text"])
            if on_page is not None:
                await on_page(len(texts), count)
        elif "done" in report:
            # PostgreSQL text cannot hold NUL characters, which some PDFs' text contains.
            text = "\n\n".join(texts).replace("\x00", "")
            return ExtractedPdf(page_count=count, text=text)
        elif "refused" in report:
            raise _refusal(report)
        elif "encrypted" in report:
            raise PdfEncryptedError("the PDF is encrypted")
        else:
            raise PdfUnreadableError(report.get("error", "unknown error"))
    code = await process.wait()
    # Ended by its own limits before it could say so.
    if code == MEMORY_EXIT_CODE:
        raise _refusal({"refused": "memory", "limit": limits.max_memory_mb})
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        raise PdfLimitExceededError("Das Lesen des PDFs dauert zu lange.")
    raise PdfUnreadableError(f"the PDF reader ended with exit code {code}")
