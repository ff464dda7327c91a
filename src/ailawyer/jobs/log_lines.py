"""A job's log lines as stored: each starts with its UTC time, so pages can show it in TIME_ZONE.

bullmq keeps a job's log as bare strings; the stamp at the start of each line is ours,
written by `JobContext.log` and read back by the job explorer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class LogLine:
    # None: a line without our stamp (written by another bullmq client).
    at: datetime | None
    text: str


def stamped(text: str, at: datetime) -> str:
    """`text` as stored: its UTC time to the millisecond (ISO 8601), a space, the text."""
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"{stamp} {text}"


def read_line(line: str) -> LogLine:
    """A stored line split into its time and text; a line without our stamp is all text."""
    stamp, _, text = line.partition(" ")
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return LogLine(None, line)
    # Only our stamp carries a zone; a line that merely starts with a date is text.
    if at.tzinfo is None:
        return LogLine(None, line)
    return LogLine(at, text)
