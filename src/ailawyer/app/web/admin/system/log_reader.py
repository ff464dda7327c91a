"""The newest log lines of all processes, read from the ends of their files and merged by time.

Every process writes JSON lines to its own `<kind>-<host>-<pid>.log` and rotates it to
`.log.1`, `.log.2`, ... (higher = older; see `ailawyer.logs`). This module answers "the
newest N lines matching a filter" without reading more than it must:

1. Each process is one *stream*: its files newest first (`.log`, `.log.1`, ...), each read
   backwards in blocks (seek from the end), so a 1 GB file costs what a small one does.
2. A stream yields its matching entries newest first, and after each block a *frontier*:
   the time of the oldest line in that block, i.e. "nothing newer than this is left here".
   A stream not opened yet has its newest file's mtime as its frontier.
3. A heap merges the streams by those keys. An entry leaves the heap only once no other
   stream can still hold a newer one, so the result is exactly the newest matching lines.
   Streams are advanced in time order, so when a filter matches little, all files are
   searched back to about the same moment instead of one file eating the effort.
4. A byte budget per request (LOG_VIEWER_SCAN_MB) bounds the work when little matches.
   When it runs out, the merge stops, and `searched_until` says how far back it searched.

Cheap byte tests (necessary conditions of the filters) skip blocks and lines before any
JSON is parsed. A line that is not a JSON object is kept as text ("malformed"), never
dropped. Everything in an entry is data from the files: render it as text only.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from ailawyer.logs import FILE_NAME

LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")
_LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
# Process kinds that write logs (see `ailawyer.cli.start_logging`).
SOURCES: tuple[str, ...] = ("app", "worker", "cli")

DEFAULT_LIMIT = 200
BLOCK_SIZE = 64 * 1024
# A longer "line" (a file without newlines, a runaway message) is kept only by its end.
MAX_LINE_BYTES = 256 * 1024

_TIMESTAMP_FIELD = re.compile(rb'"timestamp"\s*:\s*"([^"]{10,40})"')
# The fields every line has (`ailawyer.logs._ProcessFields`); the rest is shown as extra.
_KNOWN_FIELDS = frozenset(
    {
        "timestamp",
        "level",
        "message",
        "logger",
        "process",
        "pid",
        "host",
        "userId",
        "akteId",
        "jobId",
        "requestId",
        "exception",
    }
)


@dataclass(frozen=True)
class LogQuery:
    """What to show: a minimum level, a source (process kind), a logger prefix, text, ids."""

    min_level: str = "debug"
    source: str | None = None
    logger: str | None = None
    text: str | None = None
    job_id: str | None = None
    user_id: str | None = None
    limit: int = DEFAULT_LIMIT

    @property
    def is_filtered(self) -> bool:
        """Whether anything beyond "all lines" is asked for."""
        return self.min_level != "debug" or any(
            (self.source, self.logger, self.text, self.job_id, self.user_id)
        )


@dataclass(frozen=True)
class LogEntry:
    """One line: its parsed fields, or (when `malformed`) only its raw text."""

    timestamp: datetime | None
    level: str | None
    message: str
    logger: str | None
    process: str | None
    pid: int | str | None
    host: str | None
    user_id: Any
    akte_id: Any
    job_id: Any
    request_id: Any
    exception: str | None
    extra: dict[str, Any]
    raw: str
    malformed: bool
    # A line longer than MAX_LINE_BYTES: only parts of it are kept, shown as text.
    truncated: bool
    file: str

    def extra_items(self) -> list[tuple[str, str]]:
        """The line's other fields as (name, text) pairs, for display."""
        return [(name, _as_text(value)) for name, value in self.extra.items()]


@dataclass(frozen=True)
class LogPage:
    """The newest matching entries (newest first) and how much was searched for them."""

    entries: list[LogEntry]
    files: int
    scanned_bytes: int
    # Set when the byte budget ran out before `limit` entries were found: lines older
    # than this moment were not searched.
    searched_until: datetime | None

    @property
    def incomplete(self) -> bool:
        return self.searched_until is not None


def read_logs(
    log_dir: Path,
    query: LogQuery,
    *,
    max_scan_bytes: int,
    block_size: int = BLOCK_SIZE,
) -> LogPage:
    """The newest `query.limit` entries in `log_dir` that match, reading <= `max_scan_bytes`."""
    matcher = _Matcher(query)
    budget = _Budget(max_scan_bytes)
    streams = [
        _Stream(files, matcher, budget, block_size) for files in _streams_in(log_dir, query.source)
    ]
    entries = _merge(streams, query.limit, budget)
    searched_until = None
    if budget.exhausted and len(entries) < query.limit:
        searched_until = datetime.fromtimestamp(budget.frontier, UTC)
    return LogPage(
        entries=entries,
        files=sum(len(stream.files) for stream in streams),
        scanned_bytes=budget.used,
        searched_until=searched_until,
    )


@dataclass(frozen=True)
class _LogFile:
    path: Path
    kind: str
    host: str
    pid: int
    index: int
    mtime: float


def _streams_in(log_dir: Path, source: str | None) -> list[list[_LogFile]]:
    """The files of each process (by base name), newest file first."""
    by_process: dict[tuple[str, str, str], list[_LogFile]] = {}
    try:
        candidates = list(os.scandir(log_dir))
    except FileNotFoundError:
        return []
    for item in candidates:
        match = FILE_NAME.match(item.name)
        if match is None or (source and match["kind"] != source):
            continue
        try:
            stat = item.stat()
        except FileNotFoundError:  # rotated away between listing and stat
            continue
        if not stat.st_size:
            continue
        # Grouped by process: `.log` and its rotated `.log.<n>` files.
        process = (match["kind"], match["host"], match["pid"])
        by_process.setdefault(process, []).append(
            _LogFile(
                path=Path(item.path),
                kind=match["kind"],
                host=match["host"],
                pid=int(match["pid"]),
                index=int(match["index"] or 0),
                mtime=stat.st_mtime,
            )
        )
    return [sorted(files, key=lambda f: f.index) for files in by_process.values()]


class _Budget:
    """Bytes a request may still read, shared by all its streams."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.exhausted = False
        # The frontier of the stream that hit the limit: older lines were not searched.
        self.frontier = 0.0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            self.exhausted = True
            return False
        self.used += size
        return True


class _Matcher:
    """The filters of a query: cheap byte tests first, then the exact test on parsed lines.

    Each byte test is a set of alternatives of which at least one must occur in any line
    that matches; a block in which one test finds none of its alternatives holds no match.
    """

    def __init__(self, query: LogQuery) -> None:
        self.min_rank = _LEVEL_RANK.get(query.min_level, 0)
        self.logger = query.logger or None
        self.job_id = query.job_id or None
        self.user_id = query.user_id or None
        self.text = query.text.lower() if query.text else None
        # A text with `"` or `\` appears escaped in a JSON line and as is in a malformed one.
        self.text_forms = (
            {self.text, json.dumps(self.text, ensure_ascii=False)[1:-1]} if self.text else set()
        )
        self.exact_tests: list[tuple[bytes, ...]] = []
        if self.min_rank > 0:
            self.exact_tests.append(
                _field_forms("level", [json.dumps(level) for level in LEVELS[self.min_rank :]])
            )
        if self.logger:
            # A prefix of the value: the closing quote is left off on purpose.
            self.exact_tests.append(
                _field_forms("logger", [json.dumps(self.logger, ensure_ascii=False)[:-1]])
            )
        for name, value in (("jobId", self.job_id), ("userId", self.user_id)):
            if value:
                self.exact_tests.append(_field_forms(name, _value_forms(value)))
        self.text_ascii = self.text is not None and self.text.isascii()
        self.text_bytes = tuple(form.encode() for form in self.text_forms)

    def may_match(self, data: bytes) -> bool:
        """False only if no line in `data` can match (a necessary condition, not sufficient)."""
        for alternatives in self.exact_tests:
            if not any(alternative in data for alternative in alternatives):
                return False
        if self.text is None:
            return True
        if self.text_ascii:
            lowered = data.lower()  # ASCII only, which is all an ASCII needle needs
            return any(form in lowered for form in self.text_bytes)
        decoded = data.decode("utf-8", "replace").lower()
        return any(form in decoded for form in self.text_forms)

    def matches(self, entry: LogEntry) -> bool:
        """The exact test, on a parsed entry (a malformed one matches only a text filter)."""
        if self.text is not None and not any(form in entry.raw.lower() for form in self.text_forms):
            return False
        if entry.malformed:
            return not (self.min_rank or self.logger or self.job_id or self.user_id)
        if self.min_rank and _LEVEL_RANK.get(entry.level or "", -1) < self.min_rank:
            return False
        if self.logger and not (
            entry.logger == self.logger or (entry.logger or "").startswith(self.logger + ".")
        ):
            return False
        if self.job_id and str(entry.job_id) != self.job_id:
            return False
        return not (self.user_id and str(entry.user_id) != self.user_id)


def _field_forms(name: str, values: Iterable[str]) -> tuple[bytes, ...]:
    # Our renderer writes `"key": value`; a compact writer would write `"key":value`.
    return tuple(
        form.encode() for value in values for form in (f'"{name}": {value}', f'"{name}":{value}')
    )


def _value_forms(value: str) -> list[str]:
    forms = [json.dumps(value, ensure_ascii=False)]
    if re.fullmatch(r"-?\d+", value):  # ids may be logged as numbers
        forms.append(value)
    return forms


class _Stream:
    """One process's lines, newest first, interleaved with frontier keys."""

    def __init__(
        self, files: list[_LogFile], matcher: _Matcher, budget: _Budget, block_size: int
    ) -> None:
        self.files = files
        self.matcher = matcher
        self.budget = budget
        self.block_size = block_size
        # Nothing in a file is newer than its last write.
        self.frontier = files[0].mtime

    def items(self) -> Iterator[tuple[float, LogEntry | None]]:
        """(key, entry) for matching lines and (key, None) frontiers, keys never increasing."""
        for log_file in self.files:
            try:
                handle = log_file.path.open("rb")
            except FileNotFoundError:  # rotated or removed since listing
                continue
            with handle:
                yield from self._file_items(handle, log_file)
            if self.budget.exhausted:
                return

    def _file_items(
        self, handle: BinaryIO, log_file: _LogFile
    ) -> Iterator[tuple[float, LogEntry | None]]:
        position = handle.seek(0, os.SEEK_END)
        # The end of the line that began in a block not read yet (it never holds a newline).
        carry = b""
        carry_cut = False
        while position > 0:
            size = min(self.block_size, position)
            if not self.budget.take(size):
                self.budget.frontier = self.frontier
                return
            position -= size
            handle.seek(position)
            chunk = handle.read(size) + carry
            if position == 0:  # the file's first line is complete
                body, carry, body_cut = chunk, b"", carry_cut
            else:
                newline = chunk.find(b"\n")
                if newline < 0:
                    carry_cut = carry_cut or len(chunk) > MAX_LINE_BYTES
                    carry = chunk[-MAX_LINE_BYTES:]
                    continue
                body, carry, body_cut = chunk[newline + 1 :], chunk[:newline], carry_cut
                carry_cut = False
            if not body.strip():
                continue
            oldest = _first_timestamp(body)
            if self.matcher.may_match(body):
                yield from self._entries(body, log_file, last_line_cut=body_cut)
            if oldest is not None and oldest < self.frontier:
                self.frontier = oldest
            yield self.frontier, None

    def _entries(
        self, body: bytes, log_file: _LogFile, *, last_line_cut: bool
    ) -> Iterator[tuple[float, LogEntry | None]]:
        lines = body.split(b"\n")
        last = len(lines) - 1
        for number in range(last, -1, -1):
            line = lines[number]
            if not line.strip() or not self.matcher.may_match(line):
                continue
            entry = _parse(line, log_file, truncated=last_line_cut and number == last)
            if not self.matcher.matches(entry):
                continue
            key = entry.timestamp.timestamp() if entry.timestamp else self.frontier
            # Clock jitter between threads must not let a key rise: the merge relies on order.
            key = min(key, self.frontier)
            self.frontier = key
            yield key, entry


def _first_timestamp(body: bytes, tries: int = 8) -> float | None:
    """The time of the oldest (first) line in `body` that has one, looking at a few lines."""
    start = 0
    for _ in range(tries):
        end = body.find(b"\n", start)
        stop = len(body) if end < 0 else end
        match = _TIMESTAMP_FIELD.search(body, start, min(stop, start + 120))
        if match is not None:
            parsed = _parse_time(match.group(1).decode("ascii", "replace"))
            if parsed is not None:
                return parsed.timestamp()
        if end < 0:
            return None
        start = end + 1
    return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse(line: bytes, log_file: _LogFile, *, truncated: bool = False) -> LogEntry:
    """A line as an entry; anything that is not a JSON object becomes a malformed entry."""
    text = line.decode("utf-8", "replace").rstrip("\r")
    record: Any = None
    if not truncated:
        try:
            record = json.loads(text)
        except ValueError:
            record = None
    if not isinstance(record, dict):
        return LogEntry(
            timestamp=None,
            level=None,
            message=text,
            logger=None,
            process=log_file.kind,
            pid=log_file.pid,
            host=log_file.host,
            user_id=None,
            akte_id=None,
            job_id=None,
            request_id=None,
            exception=None,
            extra={},
            raw=text,
            malformed=True,
            truncated=truncated,
            file=log_file.path.name,
        )
    level = record.get("level")
    exception = record.get("exception")
    return LogEntry(
        timestamp=_parse_time(record.get("timestamp")),
        level=level.lower() if isinstance(level, str) else None,
        message=_as_text(record.get("message", "")),
        logger=_optional_text(record.get("logger")),
        process=_optional_text(record.get("process")) or log_file.kind,
        pid=record.get("pid", log_file.pid),
        host=_optional_text(record.get("host")) or log_file.host,
        user_id=record.get("userId"),
        akte_id=record.get("akteId"),
        job_id=record.get("jobId"),
        request_id=record.get("requestId"),
        exception=None if exception is None else _as_text(exception),
        extra={key: value for key, value in record.items() if key not in _KNOWN_FIELDS},
        raw=text,
        malformed=False,
        truncated=False,
        file=log_file.path.name,
    )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _optional_text(value: Any) -> str | None:
    return None if value is None else _as_text(value)


@dataclass(order=True)
class _HeapItem:
    sort_key: tuple[float, int]
    entry: LogEntry | None = field(compare=False)
    items: Iterator[tuple[float, LogEntry | None]] = field(compare=False)


def _merge(streams: list[_Stream], limit: int, budget: _Budget) -> list[LogEntry]:
    """The newest `limit` entries over all streams (see the module docstring, step 3)."""
    order = itertools.count()
    heap: list[_HeapItem] = []

    def advance(items: Iterator[tuple[float, LogEntry | None]]) -> None:
        following = next(items, None)
        if following is not None:
            key, entry = following
            heapq.heappush(heap, _HeapItem((-key, next(order)), entry, items))

    for stream in streams:
        # Not opened yet: its key is its newest file's mtime until it is first advanced.
        heapq.heappush(heap, _HeapItem((-stream.frontier, next(order)), None, stream.items()))

    entries: list[LogEntry] = []
    while heap and len(entries) < limit:
        item = heapq.heappop(heap)
        if item.entry is not None:
            entries.append(item.entry)
        advance(item.items)
        if budget.exhausted:
            break
    return entries
