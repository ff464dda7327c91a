"""The child that reads one PDF under operating-system limits (see `pdf.extract_pdf`).

`read_in_child` runs in a process of its own, forked from a multiprocessing forkserver
that has imported this module (and pypdf) once, so a PDF costs a fork instead of a
Python start-up. It caps its own address space and CPU time before it touches the file,
then writes one JSON object per line to the pipe it was given:

    {"pages": n}                      the page count, once
    {"text": "..."}                   each page's text, in order
    {"done": true}                    the end
    {"refused": "pages"|"text"|"memory"|"structure", ...}   a limit was reached
    {"encrypted": true}               password protected
    {"error": "PdfStreamError: ..."}  pypdf could not read it: the file is damaged
    {"unavailable": "..."}            the file could not be opened (storage away)

Nothing here imports the application: the forkserver holds no connections to inherit.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from pypdf import PdfReader

# The exit code when even the refusal could not be written (no memory left for it).
MEMORY_EXIT_CODE = 3


def _report(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def read(file: BinaryIO, max_pages: int, max_text_chars: int) -> None:
    """Report the page count and each page's text, refusing at the first limit reached."""
    # Imported here, not above: the app imports this module too and never reads a PDF.
    # The forkserver has pypdf loaded already, so in a reader this costs nothing.
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    try:
        _read(PdfReader(file, strict=False), max_pages, max_text_chars)
    except LimitReachedError as error:
        # pypdf's own bounds (page tree, nesting, stream sizes): too big, not broken.
        _report(refused="structure", detail=str(error)[:2000])


def _read(reader: PdfReader, max_pages: int, max_text_chars: int) -> None:
    if reader.is_encrypted:
        _report(encrypted=True)
        return
    count = len(reader.pages)
    if count > max_pages:
        _report(refused="pages", limit=max_pages, actual=count)
        return
    _report(pages=count)
    total = 0
    for index in range(count):
        text = reader.pages[index].extract_text()
        total += len(text)
        if total > max_text_chars:
            _report(refused="text", limit=max_text_chars)
            return
        _report(text=text)
    _report(done=True)


def take_fd(pipe: Connection) -> int:
    """The pipe's file descriptor, owned by the caller from now on (the Connection is closed)."""
    fd = os.dup(pipe.fileno())
    pipe.close()
    return fd


def read_in_child(
    pipe: Connection,
    path: str,
    max_pages: int,
    max_text_chars: int,
    max_memory_mb: int,
    cpu_seconds: int,
) -> None:
    """The child's entry point: limit this process, then read `path`, reporting to `pipe`."""
    sys.stdout = os.fdopen(take_fd(pipe), "w", encoding="utf-8")
    # pypdf warns about every flaw it reads past ("EOF marker not found") on stderr, which
    # this process shares with the worker, whose output is JSON log lines only.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
    memory = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # A backstop should the parent die: its own clock is the limit that normally ends us.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed below; the reading has its own errors)
    except OSError as error:
        # A file the storage cannot hand out now is no damaged file: it may be there on
        # the next try. Only the reason, not the path (it ends up in notifications).
        _report(unavailable=f"{type(error).__name__}: {error.strerror or 'not readable'}")
        return
    try:
        with file:
            read(file, max_pages, max_text_chars)
    except MemoryError:
        try:
            _report(refused="memory", limit=max_memory_mb)
        except MemoryError:
            os._exit(MEMORY_EXIT_CODE)
    except Exception as error:
        _report(error=f"{type(error).__name__}: {error}"[:2000])
