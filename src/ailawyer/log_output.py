"""Where a process's log lines go: its own file and stdout, each line rendered once.

`LineHandler` is the one handler `ailawyer.logs` puts on the root logger. It renders a record
once as JSON and writes that text to the file and (unless stdout is for people, see
`ailawyer dev`) to stdout; two stdlib handlers rendered every line twice, and
`RotatingFileHandler` a third time to decide about rotation (see bench/RESULTS.md).

A write that fails (a full disk: ENOSPC, a file size limit: EFBIG, a closed pipe) drops the
line, never the request or job that logged it, and never prints a traceback per line: the
first failure prints one warning to stderr, later ones at most one a minute with the number
of lines dropped meanwhile (`WriteTrouble`). A line is written whole or not at all: after a
short write the file is cut back to the end of the last whole line, so the file stays valid
JSON lines. Every later line tries again; the first that gets through is preceded by a line
saying how many were lost (where they are missing), and the trouble is over.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

# At most one warning about a failing target per interval (seconds).
WARNING_INTERVAL_SECONDS = 60.0


class LineFile:
    """One process's log file: whole lines appended, rotated at `max_bytes`.

    Only this process writes the file, so the size it keeps is the file's size. The file is
    opened at the first line (a process that never logs leaves no empty file); rotated
    files are named like the stdlib's `RotatingFileHandler` names them (`.1` is the newest).
    """

    def __init__(self, path: Path, *, max_bytes: int, backup_count: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._fd: int | None = None
        # The end of the last whole line; a failed write is cut back to it.
        self._size = 0
        self._torn = False

    def write(self, data: bytes) -> None:
        """Append `data` (whole lines) or raise OSError, leaving no part of it behind."""
        if self._fd is None:
            self._open()
        assert self._fd is not None
        if self._torn:
            self._cut_back()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        view = memoryview(data)
        written = 0
        try:
            # A regular file takes all bytes at once unless the disk or a limit runs out;
            # then the first call writes a part and the next raises.
            while written < len(view):
                written += os.write(self._fd, view[written:])
        except OSError:
            if written:
                self._torn = True
                self._cut_back()
            raise
        self._size += written

    def reopen(self, path: Path) -> None:
        """Continue in another file (a forked child's own), leaving the current one alone."""
        if self._fd is not None:
            os.close(self._fd)
        self.path, self._fd, self._size, self._torn = path, None, 0, False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        # Read as well: a torn last line left by an earlier process is found and cut.
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        size = os.fstat(fd).st_size
        self._fd = fd
        self._size = size
        # A previous process with this pid may have left a torn last line.
        self._torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        if self._torn:
            self._size = _last_line_end(fd, size)

    def _cut_back(self) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            return  # tried again before the next line
        self._torn = False

    def _rotate(self) -> None:
        self.close()
        for index in range(self.backup_count - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.path.exists():
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._open()


def _last_line_end(fd: int, size: int) -> int:
    """The offset after the last newline in the file (0 if none), read from the end."""
    end = size
    while end > 0:
        start = max(0, end - 65536)
        block = os.pread(fd, end - start, start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


@dataclass(frozen=True)
class TroubleState:
    """Whether writing to a target fails now, since when (Unix time), and what it cost."""

    failing: bool
    since: float | None
    dropped: int
    error: str | None


class WriteTrouble:
    """The failures of one target (file or stdout): counted, and reported at a bounded rate."""

    def __init__(self, name: str, warn: Callable[[str, dict[str, object]], None]) -> None:
        self.name = name
        self._warn = warn
        self._since: float | None = None
        self._dropped = 0
        self._dropped_unreported = 0
        self._error: str | None = None
        self._warned_at = 0.0

    @property
    def state(self) -> TroubleState:
        return TroubleState(self._since is not None, self._since, self._dropped, self._error)

    def failed(self, error: OSError) -> None:
        """One line could not be written; warn now if this is the first or a minute passed."""
        now = time.monotonic()
        if self._since is None:
            self._since = time.time()
            self._warned_at = now - WARNING_INTERVAL_SECONDS
        self._dropped += 1
        self._dropped_unreported += 1
        self._error = f"{self.name}: {error}"
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            self._warned_at = now
            fields: dict[str, object] = {
                "target": self.name,
                "error": str(error),
                "droppedLines": self._dropped_unreported,
                "nextWarningInSeconds": int(WARNING_INTERVAL_SECONDS),
            }
            self._dropped_unreported = 0
            self._warn("log lines dropped: cannot write", fields)

    @property
    def dropped(self) -> int:
        """Lines dropped since the trouble began (0: none now)."""
        return self._dropped

    def succeeded(self) -> None:
        """A line got through: the trouble is over."""
        self._since, self._dropped, self._dropped_unreported, self._error = None, 0, 0, None


class LineHandler(logging.Handler):
    """Renders each record once and writes it to the process's file and to stdout."""

    def __init__(
        self,
        file: LineFile,
        formatter: logging.Formatter,
        *,
        stdout: TextIO | None,
        stdout_formatter: logging.Formatter | None = None,
    ) -> None:
        super().__init__()
        self.setFormatter(formatter)
        self.file = file
        self._stdout = stdout
        # None: stdout gets the JSON line the file gets.
        self._stdout_formatter = stdout_formatter
        self.file_trouble = WriteTrouble(str(file.path), self._warn)
        self.stdout_trouble = WriteTrouble("stdout", self._warn)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            console = (
                self._stdout_formatter.format(record) + "\n"
                if self._stdout_formatter is not None and self._stdout is not None
                else None
            )
        except Exception:  # a formatting bug: the stdlib's report, as for any handler
            self.handleError(record)
            return
        self._write_file(line)
        if self._stdout is not None:
            self._write_stdout(console or line)

    def reopen(self, path: Path) -> None:
        """Continue in the file at `path` (a forked child's own), with no trouble inherited."""
        self.file.reopen(path)
        self.file_trouble = WriteTrouble(str(path), self._warn)

    @property
    def trouble(self) -> list[TroubleState]:
        """The targets that fail now (empty: every line gets written)."""
        states = (self.file_trouble.state, self.stdout_trouble.state)
        return [state for state in states if state.failing]

    def close(self) -> None:
        self.acquire()
        try:
            self.file.close()
        finally:
            self.release()
        super().close()

    def _write_file(self, line: str) -> None:
        # The gap's notice and the line go in one write: both whole, or neither.
        text = self._gap_notice(self.file_trouble, self.formatter) + line
        try:
            self.file.write(text.encode("utf-8"))
        except OSError as error:
            self.file_trouble.failed(error)
            return
        self.file_trouble.succeeded()

    def _write_stdout(self, text: str) -> None:
        assert self._stdout is not None
        formatter = self._stdout_formatter or self.formatter
        try:
            self._stdout.write(self._gap_notice(self.stdout_trouble, formatter) + text)
            self._stdout.flush()
        except OSError as error:  # a full disk behind a redirect, a closed pipe
            self.stdout_trouble.failed(error)
            return
        self.stdout_trouble.succeeded()

    @staticmethod
    def _gap_notice(trouble: WriteTrouble, formatter: logging.Formatter | None) -> str:
        """After dropped lines: a line saying how many, put where they are missing."""
        if not trouble.dropped:
            return ""
        assert formatter is not None
        fields: dict[str, object] = {"target": trouble.name, "droppedLines": trouble.dropped}
        return formatter.format(notice_record("log lines dropped: writing resumed", fields)) + "\n"

    def _warn(self, message: str, fields: dict[str, object]) -> None:
        """One line on stderr, in the shape stdout has (JSON, or readable in `ailawyer dev`)."""
        formatter = self._stdout_formatter or self.formatter
        assert formatter is not None
        try:
            sys.stderr.write(formatter.format(notice_record(message, fields)) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # nowhere left to say it; the status (ailawyer.logs.logging_status) still does


def notice_record(message: str, fields: dict[str, object]) -> logging.LogRecord:
    """A WARNING of this module, shaped as structlog hands its events to the formatter."""
    event = {"event": message, "logger": __name__, "level": "warning", **fields}
    record = logging.LogRecord(__name__, logging.WARNING, __file__, 0, event, None, None)
    # What structlog.stdlib.ProcessorFormatter recognises as one of structlog's own events.
    record._logger = None  # type: ignore[attr-defined]
    record._name = "warning"  # type: ignore[attr-defined]
    return record
