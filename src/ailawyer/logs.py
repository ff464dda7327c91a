"""Structured logging for every process: JSON lines to stdout and to a file per process.

Why one file per process: the standard library's `RotatingFileHandler` loses lines when
several processes write and rotate the same file (see docs/ARCHITECTURE.md "Logging"). Each
process here writes and rotates only its own `<log_dir>/<process_kind>-<host>-<pid>.log`, so
a rotation never races with another writer. A forked child switches to a file of its own as
well. How a line reaches file and stdout, and what a full disk does: `ailawyer.log_output`.

The level: LOG_LEVEL, when given to a process, pins it; otherwise the process follows the
runtime setting an admin saves (`follow_level_setting`). `logging_status` says which, and
whether lines are being dropped; every heartbeat carries it.

Every line, whether it comes from structlog or from a standard-library logger (uvicorn,
litestar, bullmq, sqlalchemy), passes the same `ProcessorFormatter` on the root logger and
has the same shape: `timestamp`, `level`, `message`, `logger`, `process`, `pid`, `host`,
then the bound context (`userId`, `akteId`, `jobId`, `requestId`, ...) and `exception`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from ailawyer.log_output import LineFile, LineHandler

LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})

# The context keys every log line uses, in the camelCase the log viewer and the
# original design expect; callers pass the Python spelling.
CONTEXT_KEYS = {
    "user_id": "userId",
    "akte_id": "akteId",
    "job_id": "jobId",
    "request_id": "requestId",
}

# The app logs each request itself, with its context; uvicorn's own access line
# would only duplicate it without userId/requestId.
# uvicorn.error at DEBUG dumps every WebSocket handshake header (the session cookie among
# them) and every frame (notification texts): never wanted, whatever LOG_LEVEL says.
_QUIET_LOGGERS = {
    "uvicorn.access": logging.WARNING,
    "uvicorn.error": logging.INFO,
    "aiosqlite": logging.INFO,
}
# A credential in a header or cookie dump, whatever logs it, never reaches a file. Header
# names as they appear in HTTP, ASGI scopes and WSGI environs (HTTP_COOKIE).
_CREDENTIAL_NAMES = (
    r"(?:http_)?(?:set-cookie|cookie|proxy-authorization|authorization|x-csrf-?token)"
)
# Text dumps: "cookie: ailawyer_session=…", "Authorization=Bearer …" (to the end of the line).
_CREDENTIAL = re.compile(rf"(?i)\b({_CREDENTIAL_NAMES})(\s*[:=]\s*)[^\n\"]+")
# Python reprs and JSON: {'cookie': '…'}, {"Cookie": "…"}, [(b'cookie', b'…')],
# {'set-cookie': ['…', '…']}; the value is a quoted string (escapes included) or a list.
_QUOTED_CREDENTIAL = re.compile(
    rf"""(?i)(?P<key>(?P<q>['"]){_CREDENTIAL_NAMES}(?P=q)\s*[:,]\s*)"""
    r"""(?:(?P<b>b?)(?P<vq>['"])(?:\\.|(?!(?P=vq)).)*(?P=vq)|\[[^\]]*\])"""
)
_CREDENTIAL_NAME = re.compile(rf"(?i){_CREDENTIAL_NAMES}")
# Cheap test first: most lines mention none of these and skip both substitutions.
_CREDENTIAL_HINT = re.compile(r"(?i)cookie|authorization|csrf")
REDACTED = "[entfernt]"

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
_PROCESS_KIND = re.compile(r"[a-z][a-z0-9_-]*")
# `<kind>-<host>-<pid>.log` and its rotations `.log.1`, `.log.2`, ... (higher = older), as
# `_FileTarget.path_for` names them; the log viewer and the log retention read names by it.
FILE_NAME = re.compile(
    r"^(?P<kind>[a-z][a-z0-9_]*)-(?P<host>.+)-(?P<pid>\d+)\.log(?:\.(?P<index>\d+))?$"
)


def file_host(host: str) -> str:
    """A host name as it appears in log file names."""
    return _SAFE_NAME.sub("_", host)


# structlog's method names and the stdlib levels they log at.
_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class _LevelFirstLogger(structlog.stdlib.BoundLogger):
    """structlog's stdlib logger, asking the stdlib level before anything else.

    A line below the level costs one cached lookup instead of a copied context and a run
    of the processors (`filter_by_level` dropped it only after both): the worker's per-job
    DEBUG lines are on its hot path (bench/RESULTS.md, issue 15). The stdlib level decides,
    so `set_log_level` still changes structlog and stdlib loggers at once.
    """

    def _proxy_to_logger(
        self, method_name: str, event: str | None = None, *event_args: str, **event_kw: Any
    ) -> Any:
        level = _METHOD_LEVELS.get(method_name)
        if level is not None and not self._logger.isEnabledFor(level):
            return None
        return super()._proxy_to_logger(method_name, event, *event_args, **event_kw)


# Configured once, at import: the chain does not depend on the process, and every logger,
# module-level ones included, is built once at its first line instead of at every line.
# Where the lines go is `configure_logging`'s (the stdlib root handler).
structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ],
    logger_factory=structlog.stdlib.LoggerFactory(),
    wrapper_class=_LevelFirstLogger,
    cache_logger_on_first_use=True,
)


@dataclass(frozen=True)
class LoggingStatus:
    """This process's logging: its level, whether LOG_LEVEL pins it, and write trouble.

    Every process puts it into its heartbeat (`as_record`), so the admin pages and the
    alerts read every process's state, not only their own.
    """

    level: str
    # True: LOG_LEVEL in this process's environment decides, not the runtime setting.
    level_pinned: bool = False
    # Lines are being dropped now: the file or stdout cannot be written (e.g. a full disk).
    degraded: bool = False
    since: float | None = None
    dropped: int = 0
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        """The JSON form, as in a heartbeat record's `logging` field."""
        return {
            "level": self.level,
            "levelPinned": self.level_pinned,
            "degraded": self.degraded,
            "since": self.since,
            "dropped": self.dropped,
            "error": self.error,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> LoggingStatus | None:
        """The status from `as_record`'s form; None for a process that sends none."""
        if not isinstance(record, Mapping) or "level" not in record:
            return None
        return cls(
            level=str(record["level"]),
            level_pinned=bool(record.get("levelPinned")),
            degraded=bool(record.get("degraded")),
            since=record.get("since"),
            dropped=int(record.get("dropped") or 0),
            error=record.get("error"),
        )


@dataclass(frozen=True)
class _FileTarget:
    """Where this process's file lives, kept so a forked child can open its own."""

    log_dir: Path
    process_kind: str
    host: str

    def path_for(self, pid: int) -> Path:
        return self.log_dir / f"{self.process_kind}-{_SAFE_NAME.sub('_', self.host)}-{pid}.log"


# The handler configure_logging installed on the root logger, so a second call replaces it
# instead of adding a duplicate, and the target a forked child reopens.
_handler: LineHandler | None = None
_file_target: _FileTarget | None = None
# LOG_LEVEL was given to this process: the runtime setting does not change its level.
_level_pinned = False


def configure_logging(
    process_kind: str,
    *,
    level: str,
    log_dir: Path,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 10,
    stdout: bool = True,
    console: bool = False,
    level_pinned: bool = False,
) -> Path:
    """Send all logging of this process as JSON lines to its own rotating file and stdout.

    `console`: stdout gets readable, coloured lines for people (`ailawyer dev`) instead of
    JSON; the file stays JSON. `level_pinned`: LOG_LEVEL was set for this process, so
    `follow_level_setting` leaves `level` alone.
    """
    global _handler, _file_target, _level_pinned
    if not _PROCESS_KIND.fullmatch(process_kind):
        raise ValueError(f"process_kind must be a short lower-case word, got {process_kind!r}")
    level_name = _level_name(level)
    log_dir.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()

    # Lines from standard-library loggers get what structlog's own chain adds.
    foreign_pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=foreign_pre_chain,
        processors=[
            _ProcessFields(process_kind, host),
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_credentials,
            # Umlauts stay readable UTF-8; json escapes newlines, so a line stays a line.
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )
    console_formatter = (
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=foreign_pre_chain,
            processors=[
                _ConsoleFields(process_kind),
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                # The traceback as text, redacted like the file's: no rich locals on screen.
                structlog.processors.format_exc_info,
                _redact_credentials,
                # NO_COLOR (no-color.org) is the one switch; no guessing from a TTY.
                structlog.dev.ConsoleRenderer(colors="NO_COLOR" not in os.environ),
            ],
        )
        if console
        else None
    )
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _file_target = _FileTarget(log_dir, process_kind, host)
    if stdout:
        _ensure_utf8_stdout()
    _handler = LineHandler(
        LineFile(
            _file_target.path_for(os.getpid()), max_bytes=max_bytes, backup_count=backup_count
        ),
        formatter,
        stdout=sys.stdout if stdout else None,
        stdout_formatter=console_formatter,
    )
    root.addHandler(_handler)
    root.setLevel(level_name)
    _level_pinned = level_pinned

    # uvicorn's default config gives its loggers their own stderr handlers; route
    # them through the root logger like everything else.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    for name, quiet_level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)

    return _file_target.path_for(os.getpid())


def follow_level_setting(level: str) -> None:
    """Apply the level an admin saved (runtime setting), unless LOG_LEVEL pins this process."""
    if not _level_pinned:
        set_log_level(level)


def logging_status() -> LoggingStatus:
    """This process's logging now: level, its source, and whether lines are being dropped."""
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    trouble = _handler.trouble if _handler is not None else []
    if not trouble:
        return LoggingStatus(level=level, level_pinned=_level_pinned)
    return LoggingStatus(
        level=level,
        level_pinned=_level_pinned,
        degraded=True,
        since=min(state.since or 0.0 for state in trouble),
        dropped=sum(state.dropped for state in trouble),
        error="; ".join(state.error or "" for state in trouble),
    )


def logging_degraded() -> bool:
    """Whether this process drops log lines now (its file or stdout cannot be written)."""
    return _handler is not None and bool(_handler.trouble)


def set_log_level(level: str) -> None:
    """Change the level of the running process at once, for structlog and stdlib loggers."""
    # Logger.setLevel clears the stdlib's per-logger level cache, and structlog loggers
    # ask the stdlib first (`_LevelFirstLogger`), so the next line follows the new level.
    logging.getLogger().setLevel(_level_name(level))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger whose lines carry `name` in their `logger` field."""
    return structlog.stdlib.get_logger(name)


def bind_context(**fields: Any) -> None:
    """Add fields to every later line of this task or thread; user_id etc. become camelCase."""
    structlog.contextvars.bind_contextvars(**_context_fields(fields))


def clear_context() -> None:
    """Remove all bound context, e.g. before and after each request or job."""
    structlog.contextvars.clear_contextvars()


def _context_fields(fields: dict[str, Any]) -> dict[str, Any]:
    # None means "not known here" (e.g. an anonymous request), not a value worth a field.
    return {CONTEXT_KEYS.get(key, key): value for key, value in fields.items() if value is not None}


def _level_name(level: str) -> str:
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}")
    return name


def _redact_credentials(
    logger: WrappedLogger, method_name: str, event_dict: EventDict
) -> EventDict:
    """Replace credential values in every field (message, exception, structured values)."""
    for key, value in event_dict.items():
        # A field named like a credential (log.info(..., cookie=...)) goes whole.
        event_dict[key] = REDACTED if _is_credential_name(key) else _redact(value)
    return event_dict


# Deeper structures are not log fields anyone writes; the renderer's repr of them is
# still redacted as text.
_MAX_REDACT_DEPTH = 6


def _redact(value: Any, depth: int = 0) -> Any:
    """`value` with every credential replaced: in text, and under header names in dicts,
    (name, value) pairs and lists (e.g. an ASGI scope's headers passed as a log field)."""
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, bytes):
        text = value.decode("latin-1")
        return _redact_text(text) if _CREDENTIAL_HINT.search(text) else value
    if depth >= _MAX_REDACT_DEPTH:
        return _redact_text(repr(value)) if isinstance(value, dict | list | tuple) else value
    if isinstance(value, dict):
        return {
            name: REDACTED if _is_credential_name(name) else _redact(item, depth + 1)
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        if len(value) == 2 and _is_credential_name(value[0]):
            return (value[0], REDACTED)
        return [_redact(item, depth + 1) for item in value]
    return value


def _redact_text(text: str) -> str:
    if not _CREDENTIAL_HINT.search(text):
        return text
    text = _QUOTED_CREDENTIAL.sub(_redacted_quoted, text)
    return _CREDENTIAL.sub(rf"\1\2{REDACTED}", text)


def _redacted_quoted(match: re.Match[str]) -> str:
    quote = match["vq"] or "'"
    return f"{match['key']}{match['b'] or ''}{quote}{REDACTED}{quote}"


def _is_credential_name(name: Any) -> bool:
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and _CREDENTIAL_NAME.fullmatch(name) is not None


class _ProcessFields:
    """Puts the fields every line has first, in a fixed order, and renames `event` to `message`."""

    def __init__(self, process_kind: str, host: str) -> None:
        self._process_kind = process_kind
        self._host = host

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        record: logging.LogRecord = event_dict["_record"]
        # The record's creation time, not the formatting time: that is when it happened.
        created = datetime.fromtimestamp(record.created, UTC)
        leading = {
            "timestamp": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": event_dict.pop("level"),
            "message": event_dict.pop("event"),
            "logger": event_dict.pop("logger"),
            "process": self._process_kind,
            "pid": os.getpid(),
            "host": self._host,
        }
        # The context keys next, in a fixed order, so lines read alike whatever bound them.
        for key in CONTEXT_KEYS.values():
            if key in event_dict:
                leading[key] = event_dict.pop(key)
        return {**leading, **event_dict}


class _ConsoleFields:
    """For people at a terminal: the record's local time and the process kind; the renderer
    puts the level, message and logger in front of the other fields."""

    def __init__(self, process_kind: str) -> None:
        self._process_kind = process_kind

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        record: logging.LogRecord = event_dict["_record"]
        # The machine's own clock: this is the developer's terminal, not a stored line.
        event_dict["timestamp"] = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        event_dict["process"] = self._process_kind
        return event_dict


def _ensure_utf8_stdout() -> None:
    # A container with a C/POSIX locale would otherwise make every umlaut an encoding
    # error, and the stdlib handler would drop the whole line.
    encoding = getattr(sys.stdout, "encoding", None) or ""
    if encoding.lower().replace("-", "") != "utf8" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")


def _reopen_file_after_fork() -> None:
    # A forked child inherits the parent's open file; writing and rotating it from two
    # processes is exactly what loses lines, so the child moves to a file of its own.
    if _file_target is None or _handler is None:
        return
    _handler.reopen(_file_target.path_for(os.getpid()))


os.register_at_fork(after_in_child=_reopen_file_after_fork)
