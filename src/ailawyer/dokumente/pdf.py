"""PDF checks at upload (by content, not by name) and text extraction in the worker."""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ailawyer.dokumente.pdf_reader import MEMORY_EXIT_CODE, read_in_child, take_fd
from ailawyer.dokumente.wording import DAMAGED, ENCRYPTED, number_de, pages_de

# Every PDF starts with this; many writers put a few bytes of garbage before it, which
# readers accept within the first kilobyte.
PDF_MAGIC = b"%PDF-"
MAGIC_SEARCH_BYTES = 1024
# Readers are forked from a server process that has pypdf loaded: a fork per PDF instead of
# a Python start-up and a pypdf import (~0.2 s of CPU each). "__main__" is loaded there
# once too, or multiprocessing would import the main module again in every reader.
_READERS = multiprocessing.get_context("forkserver")
_READERS.set_forkserver_preload(
    ["__main__", "ailawyer.dokumente.pdf_reader", "pypdf", "pypdf.errors"]
)


def looks_like_pdf(head: bytes) -> bool:
    """Whether the first bytes of a file carry the PDF signature."""
    return PDF_MAGIC in head[:MAGIC_SEARCH_BYTES]


class PdfRefusedError(Exception):
    """The file itself cannot be processed, and trying again cannot help: the same file
    fails the same way. `reason` is German, for the uploader; the message is technical,
    for administrators."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class PdfEncryptedError(PdfRefusedError):
    """The PDF is password protected; we do not try to open it."""

    def __init__(self) -> None:
        super().__init__(ENCRYPTED, "the PDF is encrypted")


class PdfUnreadableError(PdfRefusedError):
    """pypdf could not read the PDF: it is damaged. The message names pypdf's error."""

    def __init__(self, detail: str) -> None:
        super().__init__(DAMAGED, detail)


class PdfLimitExceededError(PdfRefusedError):
    """Reading the PDF would take more than a limit allows (pages, text, memory, time)."""


class PdfReaderFailedError(Exception):
    """The reader could not open the file, or ended without a word: not the file's fault
    as far as we know, so worth another try (storage away, a reader killed from outside)."""


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


def _refusal(report: dict[str, Any]) -> PdfLimitExceededError:
    kind, limit = report["refused"], report.get("limit", 0)
    reasons = {
        "pages": f"Die Datei hat mehr als {pages_de(limit)}.",
        "text": f"Die Datei enthält mehr als {number_de(limit)} Zeichen Text.",
        "memory": f"Die Datei braucht zum Lesen mehr als {number_de(limit)} MB Arbeitsspeicher.",
        "structure": "Die Datei ist zu verschachtelt aufgebaut, um sie zu lesen.",
    }
    details = {
        "pages": f"{report.get('actual', '?')} pages, at most {limit} are read",
        "text": f"more than {limit} characters of text",
        "memory": f"more than {limit} MB of memory",
        "structure": f"pypdf's limit: {report.get('detail', '')}",
    }
    return PdfLimitExceededError(
        reasons.get(kind, "Die Datei ist zu groß, um sie zu lesen."),
        details.get(kind, f"limit {kind!r} reached"),
    )


async def extract_pdf(
    path: Path,
    on_page: Callable[[int, int], Awaitable[None]] | None = None,
    *,
    limits: PdfLimits,
) -> ExtractedPdf:
    """Page count and text of the PDF at `path`.

    A damaged, encrypted or too big file raises a PdfRefusedError (the file's fault, for
    good); a reader that could not open the file or died unexplained, PdfReaderFailedError.

    pypdf runs in a child process (`pdf_reader`, forked from a forkserver that has it
    imported) with its own memory and CPU limits,
    ended after `limits.max_seconds`: a file of a few hundred bytes can hold streams that
    inflate to gigabytes of text or make pypdf loop for hours, and neither a thread nor
    pypdf's own limits can stop that. The child reports page by page, so the worker's
    event loop stays free to renew job locks and `on_page` reports progress.
    """
    received, sent = _READERS.Pipe(duplex=False)
    process = _READERS.Process(
        target=read_in_child,
        args=(
            sent,
            str(path),
            limits.max_pages,
            limits.max_text_chars,
            limits.max_memory_mb,
            math.ceil(limits.max_seconds) + 1,
        ),
        daemon=True,
    )
    try:
        # Blocking (the first call starts the forkserver): kept off the event loop.
        await asyncio.to_thread(process.start)
    finally:
        sent.close()
    # One line holds one page's text: at most the text limit, up to 6 bytes a character.
    stream = asyncio.StreamReader(limit=6 * limits.max_text_chars + 64 * 1024)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(take_fd(received), "rb")
    )
    try:
        async with asyncio.timeout(limits.max_seconds):
            return await _read_reports(process, stream, on_page, limits)
    except TimeoutError:
        raise PdfLimitExceededError(
            f"Das Lesen der Datei dauert länger als {number_de(limits.max_seconds)} Sekunden.",
            f"reading took longer than {limits.max_seconds} s",
        ) from None
    finally:
        transport.close()
        # Also on cancellation (worker shutdown): no reader outlives its job.
        if process.exitcode is None:
            process.kill()
        await _exited(process)
        process.close()


async def _exited(process: BaseProcess) -> int:
    """Wait for `process` to end without blocking the loop; its exit code."""
    if process.exitcode is None:
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        loop.add_reader(process.sentinel, ended.set_result, None)
        try:
            await ended
        finally:
            loop.remove_reader(process.sentinel)
    process.join()
    assert process.exitcode is not None
    return process.exitcode


async def _read_reports(
    process: BaseProcess,
    stream: asyncio.StreamReader,
    on_page: Callable[[int, int], Awaitable[None]] | None,
    limits: PdfLimits,
) -> ExtractedPdf:
    count = 0
    texts: list[str] = []
    while line := await stream.readline():
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
            raise PdfEncryptedError()
        elif "unavailable" in report:
            raise PdfReaderFailedError(f"the file could not be opened: {report['unavailable']}")
        else:
            raise PdfUnreadableError(report.get("error", "unknown error"))
    code = await _exited(process)
    # Ended by its own limits before it could say so.
    if code == MEMORY_EXIT_CODE:
        raise _refusal({"refused": "memory", "limit": limits.max_memory_mb})
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        raise PdfLimitExceededError(
            "Das Lesen der Datei dauert zu lange.", f"the reader ended by signal {-code}"
        )
    raise PdfReaderFailedError(f"the PDF reader ended with exit code {code} before it was done")
