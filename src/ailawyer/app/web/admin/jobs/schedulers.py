"""A queue's job schedulers for the explorer: each with its interval or pattern, next and
last run and template; changing one's interval or pattern, removing one.

Framework-free; bullmq's keys are read through `ailawyer.jobs.bullmq_adapter`. Schedulers are
queue-level (their runs may be anybody's): the operator's alone (`requires_operator`). Ours
are the `system` queue's maintenance tasks, each named after its task
(`ailawyer.worker.maintenance`): every worker re-creates them at its start and whenever it
finds one missing, with the interval its settings say, so they are shown "vom System".
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from ailawyer.app.web.admin.jobs.explorer import pretty_json
from ailawyer.app.web.admin.jobs.payload_form import PayloadRefused
from ailawyer.jobs.bullmq_adapter import (
    SchedulerRecord,
    SchedulerRun,
    change_scheduler,
    pattern_next_run_ms,
    read_last_runs,
    read_scheduler,
    read_schedulers,
    remove_scheduler,
)
from ailawyer.jobs.catalog import SYSTEM
from ailawyer.jobs.payloads import SystemTaskPayload

if TYPE_CHECKING:
    from ailawyer.services import Services

# Notices on the schedulers page after an action (`controller.NOTICES` takes them in).
NOTICES: Mapping[str, tuple[str, str]] = {
    "scheduler-changed": ("success", "Der Zeitplan wurde geändert."),
    "scheduler-removed": ("success", "Der Zeitplan wurde mit seinem nächsten Lauf entfernt."),
    "scheduler-gone": ("error", "Diesen Zeitplan gibt es nicht mehr."),
    "scheduler-legacy": (
        "error",
        "Diese ältere Form einer Wiederholung lässt sich hier weder ändern noch entfernen.",
    ),
}
# The maintenance tasks' schedulers are named after their tasks (worker/maintenance.py).
SYSTEM_SCHEDULERS = frozenset(get_args(SystemTaskPayload.model_fields["task"].annotation))
# Schedulers one page lists (a queue has a handful; Node producers may add more).
LIST_LIMIT = 200
# The interval a form accepts, in seconds: from a second to a year.
MIN_EVERY_SECONDS = 1
MAX_EVERY_SECONDS = 365 * 24 * 3600


def is_system_scheduler(queue: str, scheduler_id: str) -> bool:
    """One of ours: the worker restores it (at its start, and when it finds it missing)."""
    return queue == SYSTEM.name and scheduler_id in SYSTEM_SCHEDULERS


@dataclass(frozen=True)
class SchedulerView:
    """A scheduler as the page shows it."""

    queue: str
    record: SchedulerRecord
    last_run: SchedulerRun | None

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def system(self) -> bool:
        return is_system_scheduler(self.queue, self.record.id)

    @property
    def next_at(self) -> float | None:
        """The next run (epoch seconds)."""
        return None if self.record.next_ms is None else self.record.next_ms / 1000

    @property
    def last_at(self) -> float | None:
        """When the last run found was due (epoch seconds)."""
        return None if self.last_run is None else self.last_run.due_ms / 1000

    @property
    def data_json(self) -> str:
        return pretty_json(self.record.data) or "{}"

    @property
    def opts_json(self) -> str | None:
        return pretty_json(self.record.opts)


async def read_views(services: Services, queue: str) -> tuple[int, list[SchedulerView]]:
    """How many schedulers the queue has, and up to LIST_LIMIT of them, soonest first."""
    bull_queue = services.jobs.queue(queue)
    total, records = await read_schedulers(services.jobs.redis, bull_queue, LIST_LIMIT)
    last = await read_last_runs(services.jobs.redis, bull_queue) if records else {}
    return total, [SchedulerView(queue, r, last.get(r.id)) for r in records]


async def read_view(services: Services, queue: str, scheduler_id: str) -> SchedulerView | None:
    """One scheduler, or None if the queue has none of that id."""
    bull_queue = services.jobs.queue(queue)
    record = await read_scheduler(services.jobs.redis, bull_queue, scheduler_id)
    if record is None:
        return None
    last = await read_last_runs(services.jobs.redis, bull_queue)
    return SchedulerView(queue, record, last.get(record.id))


def repeat_from_form(form: dict[str, Any], record: SchedulerRecord, zone: str) -> dict[str, Any]:
    """The repeat options a change form asks for: an interval in seconds (`art=intervall`,
    `sekunden`) or a cron pattern (`art=muster`, `muster`) read in the scheduler's own time
    zone, else `zone` (TIME_ZONE). PayloadRefused with a German sentence if neither is usable."""
    kind = str(form.get("art", ""))
    if kind == "intervall":
        text = str(form.get("sekunden", "")).strip().replace(",", ".")
        try:
            seconds = float(text)
        except ValueError:
            seconds = 0
        if not MIN_EVERY_SECONDS <= seconds <= MAX_EVERY_SECONDS:
            raise PayloadRefused(
                ["Das Intervall muss zwischen 1 Sekunde und 365 Tagen liegen (in Sekunden)."]
            )
        return {"every": round(seconds * 1000)}
    if kind == "muster":
        pattern = " ".join(str(form.get("muster", "")).split())
        repeat = {"pattern": pattern, "tz": record.tz or zone}
        try:
            # bullmq's own reading of a pattern: what it accepts here, it runs.
            pattern_next_run_ms(pattern, repeat["tz"], round(time.time() * 1000))
        except ValueError:
            raise PayloadRefused(
                [
                    f"„{pattern}“ ist kein gültiges Cron-Muster "
                    "(Minute Stunde Tag Monat Wochentag, z. B. „0 3 * * *“)."
                ]
            ) from None
        return repeat
    raise PayloadRefused(["Bitte wählen Sie Intervall oder Muster."])


async def change(services: Services, view: SchedulerView, repeat: dict[str, Any]) -> None:
    """Give the scheduler the interval or pattern `repeat` (`repeat_from_form`)."""
    try:
        await change_scheduler(services.jobs.queue(view.queue), view.record, repeat)
    except json.JSONDecodeError:
        raise PayloadRefused(
            ["Die Vorlage dieses Zeitplans ist kein gültiges JSON; er lässt sich nur entfernen."]
        ) from None
    services.job_activity.changed(view.queue)


async def remove(services: Services, queue: str, scheduler_id: str) -> bool:
    """Remove the scheduler and its next run; False if it was gone already."""
    removed = await remove_scheduler(services.jobs.queue(queue), scheduler_id)
    services.job_activity.changed(queue)
    return removed
