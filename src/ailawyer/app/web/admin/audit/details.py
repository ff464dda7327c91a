"""An audit entry's details and target as a person reads them: German names, formatted values.

The stored JSON stays as it was recorded (`ailawyer.domain.audit`): keys are the code's
words (`queue`, `jobId`, `durationMs`), read by tools and by old entries alike. Only the
page translates them; a key nobody declared here is shown as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ailawyer.app.web.admin.jobs.controller import TEST_FAILURES
from ailawyer.app.web.admin.jobs.explorer import STATE_LABELS
from ailawyer.app.web.admin.jobs.route_support import ms_de
from ailawyer.app.web.templating import number_de
from ailawyer.db.models import AuditLog
from ailawyer.domain.audit import AuditTarget
from ailawyer.jobs.catalog import QUEUES
from ailawyer.runtime_settings.definitions import RUNTIME_SETTINGS

Kind = Literal["text", "code", "time"]


@dataclass(frozen=True)
class Detail:
    """One detail: its German name and its value, ready to show.

    `kind` "time" leaves the value a datetime for the page's date filter (it knows the time
    zone); "code" marks a value that is an identifier (shown in a monospaced font).
    """

    label: str
    value: str | datetime
    kind: Kind = "text"


def text_of(value: Any) -> str:
    """A stored value in German: ja/nein, 1.234, "(leer)"; lists and objects as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, int | float):
        return number_de(value, 0 if isinstance(value, int) or value.is_integer() else 2)
    if isinstance(value, str):
        return value if value else "(leer)"
    return json.dumps(value, ensure_ascii=False)


def _queue(name: Any) -> str:
    queue = QUEUES.get(str(name))
    return f"{queue.label} ({name})" if queue is not None else text_of(name)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _time_ms(value: Any) -> datetime | str:
    return datetime.fromtimestamp(value / 1000, UTC) if _is_number(value) else text_of(value)


def _duration_ms(value: Any) -> str:
    return ms_de(value) if _is_number(value) else text_of(value)


def _names(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else text_of(value)


# key: (German name, how its value reads, kind). Keys not listed keep their name.
_DETAILS: Mapping[str, tuple[str, Callable[[Any], str | datetime], Kind]] = {
    "old": ("Vorher", text_of, "text"),
    "new": ("Nachher", text_of, "text"),
    "reset": ("Auf Standardwert zurückgesetzt", text_of, "text"),
    "queue": ("Warteschlange", _queue, "text"),
    "jobId": ("Vorgangs-ID", text_of, "code"),
    "state": ("Zustand", lambda value: STATE_LABELS.get(str(value), text_of(value)), "text"),
    "count": ("Anzahl", text_of, "text"),
    "confirmedCount": ("Bestätigte Anzahl", text_of, "text"),
    "upToMs": ("Stand der Bestätigung", _time_ms, "time"),
    "durationMs": ("Dauer", _duration_ms, "text"),
    "steps": ("Schritte", text_of, "text"),
    "failure": ("Ergebnis", lambda value: TEST_FAILURES.get(str(value), text_of(value)), "text"),
    # Added, edited and copied jobs, schedulers, every queue at once.
    "data": ("Daten", text_of, "code"),
    "before": ("Vorher", text_of, "code"),
    "after": ("Nachher", text_of, "code"),
    "delayMs": ("Verzögerung", _duration_ms, "text"),
    "sourceJobId": ("Kopie von", text_of, "code"),
    "queues": ("Warteschlangen", _names, "code"),
    "scheduler": ("Zeitplan", text_of, "code"),
    "system": ("Vom System angelegt", text_of, "text"),
    "repeat": ("Wiederholung", text_of, "code"),
}


def details_of(entry: AuditLog) -> list[Detail]:
    """The entry's details in recorded order, each with its German name and value."""
    shown: list[Detail] = []
    for key, value in (entry.details or {}).items():
        label, show, kind = _DETAILS.get(key, (key, text_of, "text"))
        readable = show(value)
        # A value that was no time after all (an old entry) is shown as text.
        if kind == "time" and not isinstance(readable, datetime):
            kind = "text"
        shown.append(Detail(label=label, value=readable, kind=kind))
    return shown


def target_name(entry: AuditLog) -> str | None:
    """The German name of a setting or queue the entry is about; None when there is none."""
    if entry.target_type == AuditTarget.SETTING.value and entry.target_id in RUNTIME_SETTINGS:
        return RUNTIME_SETTINGS[entry.target_id].label
    if entry.target_type == AuditTarget.QUEUE.value and entry.target_id in QUEUES:
        return QUEUES[entry.target_id].label
    return None
