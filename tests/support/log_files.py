"""Write log files in the shape `ailawyer.logs` writes them, for the log viewer's tests."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_TIME = 1_780_000_000.0  # 2026-05-28, a fixed "now" for files written by tests


def log_line(at: float, message: str, *, level: str = "info", **fields: Any) -> str:
    """One JSON line with the leading fields every process writes (no trailing newline)."""
    record = {
        "timestamp": datetime.fromtimestamp(at, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": level,
        "message": message,
        "logger": fields.pop("logger", "ailawyer.test"),
        "process": fields.pop("process", "app"),
        "pid": fields.pop("pid", 1),
        "host": fields.pop("host", "testhost"),
        **fields,
    }
    return json.dumps(record, ensure_ascii=False)


def write_log(path: Path, lines: list[str], *, mtime: float | None = None) -> Path:
    """Write `lines` (each newline-terminated) to `path`; set its mtime to the last line's time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def append_big_log(path: Path, size_bytes: int, *, end_time: float, process: str = "app") -> int:
    """Append at least `size_bytes` of real (not sparse) log lines, ending at `end_time`.

    A 1 MiB block of lines is written again and again, so a gigabyte takes seconds; the
    timestamps within a block repeat, which is fine for a reader that never parses them
    all. Returns the number of lines written.
    """
    lines = [
        log_line(
            end_time - 60 + index * 0.001,
            f"Anfrage {index} bearbeitet",
            path="/akten/42",
            status=200,
            durationMs=12.5,
            requestId=f"{index:032x}",
            process=process,
        )
        for index in range(6000)
    ]
    block = ("\n".join(lines) + "\n").encode()
    repeats = -(-size_bytes // len(block))
    with path.open("ab") as handle:
        for _ in range(repeats):
            handle.write(block)
    return repeats * len(lines)
