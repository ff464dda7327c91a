"""Editing in the job explorer: add a job (or a copy of one), change a waiting job's data,
run a completed job again, start every delayed job, pause or resume every queue, and delete
a queue no code declares.

Framework-free like `actions.py`, whose ActionRefused and BulkOutcome it shares; the
controller (`editing_controller.py`) asks `ailawyer.jobs.access` who may, asks first where
many things change and writes the audit log. A job's data is checked like every enqueue
checks it (the queue's payload model), and besides: a Kanzlei's ADMIN adds and edits only
jobs of its own Kanzlei that name what it may see (`access.unseen_references`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bullmq import Job

from ailawyer.app.web.admin.jobs import payload_form
from ailawyer.app.web.admin.jobs.actions import ActionRefused, BulkOutcome, set_paused
from ailawyer.app.web.admin.jobs.payload_form import PayloadRefused
from ailawyer.db.models import Akte, is_id
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.jobs.access import (
    JobPrincipal,
    holds_kanzlei_jobs,
    kanzlei_of_new_job,
    unseen_references,
)
from ailawyer.jobs.bullmq_adapter import (
    DATA_EDITABLE_STATES,
    count_manual_retry,
    read_counts,
    tally,
    update_waiting_data,
)
from ailawyer.jobs.catalog import DOKUMENTE, QueueDefinition
from ailawyer.jobs.payloads import JobPayload
from ailawyer.jobs.retry import FRESH_SERIES
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.services import Services

log = get_logger(__name__)

# Notices of these actions on the pages they return to (`controller.NOTICES` takes them in).
NOTICES: Mapping[str, tuple[str, str]] = {
    "added": ("success", "Der Vorgang wurde hinzugefügt."),
    "data-changed": ("success", "Die Daten des Vorgangs wurden geändert."),
    "rerun": ("success", "Der Vorgang wird erneut ausgeführt."),
    "promoted-all": ("success", "Die verzögerten Vorgänge wurden sofort gestartet."),
    "paused-all": (
        "success",
        "Alle Warteschlangen sind angehalten. Laufende Vorgänge werden beendet.",
    ),
    "resumed-all": ("success", "Alle Warteschlangen laufen wieder."),
    "obliterated": ("success", "Die Warteschlange wurde mit allen Vorgängen gelöscht."),
    "not-completed": ("error", "Der Vorgang ist nicht (mehr) abgeschlossen."),
    "declared": ("error", "Eine Warteschlange, die der Code deklariert, lässt sich nicht löschen."),
    "has-active": (
        "error",
        "Die Warteschlange hat laufende Vorgänge; löschen lässt sie sich erst danach.",
    ),
    "not-waiting": (
        "error",
        "Der Vorgang wartet nicht mehr: seine Daten lassen sich nicht mehr ändern.",
    ),
}
COUNTED_NOTICES: Mapping[str, tuple[str, str]] = {
    "promoted-all": (
        "1 verzögerter Vorgang wurde sofort gestartet.",
        "{count} verzögerte Vorgänge wurden sofort gestartet.",
    ),
}
# Delayed jobs bullmq promotes per Lua call.
PROMOTE_BATCH = 1000

# Queues whose job ids follow from the payload (one job per Dokument: `dokument-<id>`); the
# others take bullmq's counter. A second add under an existing id would be ignored by bullmq.
JOB_IDS: Mapping[str, Callable[[Any], str]] = {
    DOKUMENTE.name: lambda payload: dokument_job_id(payload.dokument_id),
}


@dataclass(frozen=True)
class JobTools:
    """The editing actions a job's page offers (whoever sees the page may use them)."""

    duplicate: bool
    change_data: bool
    rerun: bool


def job_tools(
    definitions: Mapping[str, QueueDefinition[Any]], queue: str, state: str | None
) -> JobTools:
    """Duplicate: a declared queue whose ids bullmq counts (a Dokument has one job, never a
    copy); change the data: a declared queue's job that has not started; run again: a
    completed job."""
    declared = queue in definitions
    return JobTools(
        duplicate=declared and queue not in JOB_IDS,
        change_data=declared and state in DATA_EDITABLE_STATES,
        rerun=state == "completed",
    )


def job_id_for(queue: str, payload: JobPayload) -> str | None:
    """The id a job with `payload` must have in `queue` (None: bullmq's counter decides)."""
    make = JOB_IDS.get(queue)
    return make(payload) if make is not None else None


async def checked_payload(
    db: AsyncSession,
    user: JobPrincipal,
    definition: QueueDefinition[Any],
    data: Mapping[str, Any],
) -> JobPayload:
    """`data` as a payload `user` may put into a job of the queue, or PayloadRefused.

    A Kanzlei's ADMIN's job is its own Kanzlei's whatever `kanzleiId` says; the operator's
    job of a Kanzlei without one gets the Kanzlei of its Akte. Every Akte, Dokument and user
    it names must be one `user` may name there (`access.unseen_references`).
    """
    values = dict(data)
    forced = kanzlei_of_new_job(user, definition.name)
    if forced is not None:
        values["kanzleiId"] = forced
    payload = payload_form.check(definition.payload_type, values)
    if definition.kanzlei_jobs and payload.kanzlei_id is None:
        akte = await db.get(Akte, payload.akte_id) if _is_id(payload.akte_id) else None
        if akte is None:
            raise PayloadRefused([f"„{payload_form.label('kanzleiId')}“ (kanzleiId) fehlt."])
        payload = payload.model_copy(update={"kanzlei_id": akte.kanzlei_id})
    unseen = await unseen_references(db, user, definition.name, payload)
    if unseen:
        values = payload.to_job_data()
        raise PayloadRefused(
            [_unseen_message(field, values.get(field), definition.kanzlei_jobs) for field in unseen]
        )
    return payload


def _unseen_message(field: str, value: Any, kanzlei_jobs: bool) -> str:
    if field == "kanzleiId" and not kanzlei_jobs:
        return "Vorgänge dieser Warteschlange gehören keiner Kanzlei: kanzleiId bitte weglassen."
    # The same words whether it does not exist or is not the viewer's: nothing is revealed.
    return f"„{payload_form.label(field)}“ ({field}): {value} gibt es nicht oder nicht hier."


async def add_job(services: Services, queue: str, payload: JobPayload, delay_ms: int) -> Job:
    """Enqueue a job; PayloadRefused when its id (one per Dokument) is taken already."""
    job_id = job_id_for(queue, payload)
    if job_id is not None and await services.jobs.get_job(queue, job_id) is not None:
        raise PayloadRefused(
            [
                f"Den Vorgang {job_id} gibt es schon: zu jedem Dokument gehört genau einer. "
                "Ist er fehlgeschlagen, starten Sie ihn mit „Erneut versuchen“ neu."
            ]
        )
    return await services.jobs.enqueue(queue, payload, job_id=job_id, delay_ms=delay_ms)


async def change_data(services: Services, queue: str, job: Job, payload: JobPayload) -> None:
    """Replace the data of a job that has not started; ActionRefused("not-waiting") if it
    started (or went) meanwhile, PayloadRefused if the data belongs to another job's id."""
    job_id = str(job.id)
    wanted = job_id_for(queue, payload)
    if wanted not in (None, job_id):
        raise PayloadRefused(
            [f"Diese Daten gehören zum Vorgang {wanted}, nicht zu {job_id}: die Nummer bleibt."]
        )
    bull_queue = services.jobs.queue(queue)
    if not await update_waiting_data(
        services.jobs.redis, bull_queue, job_id, payload.to_job_data()
    ):
        raise ActionRefused("not-waiting")
    services.job_activity.changed(queue, job_id, None, payload.kanzlei_id)


async def rerun_completed(services: Services, queue: str, job: Job, kanzlei_id: int | None) -> None:
    """Run a completed job again, with a fresh series of attempts (counted as manual)."""
    if await job.getState() != "completed":
        raise ActionRefused("not-completed")
    try:
        # Atomic in Redis: a job removed or retried meanwhile makes this fail.
        await job.retry("completed", FRESH_SERIES)
    except Exception as error:
        log.info("rerun refused by bullmq", queue=queue, jobId=job.id, error=str(error))
        raise ActionRefused("not-completed") from None
    await count_manual_retry(services.jobs.redis, services.jobs.queue(queue), str(job.id))
    services.job_activity.changed(queue, str(job.id), "waiting", kanzlei_id)


async def delayed_count(services: Services, queue: str) -> int:
    """How many jobs of the queue are delayed (for the confirmation)."""
    return (await read_counts(services.jobs.queue(queue))).counts["delayed"]


async def promote_all(services: Services, queue: str) -> BulkOutcome:
    """Start every delayed job of the queue now (bullmq's promoteJobs), also the next runs
    of its schedulers; says how many, and how many were each Kanzlei's."""
    bull_queue = services.jobs.queue(queue)
    by_kanzlei: Counter[int] = Counter()
    if holds_kanzlei_jobs(queue):
        shares = await tally(services.jobs.redis, bull_queue, "delayed")
        by_kanzlei.update({k: n for k, n in shares.items() if k is not None})
    before = await delayed_count(services, queue)
    await bull_queue.promoteJobs({"count": PROMOTE_BATCH})
    outcome = BulkOutcome(max(0, before - await delayed_count(services, queue)), by_kanzlei)
    services.job_activity.changed(queue)
    for kanzlei_id in by_kanzlei:
        services.job_activity.changed(queue, kanzlei_id=kanzlei_id)
    return outcome


async def set_all_paused(services: Services, paused: bool) -> list[str]:
    """Pause (running jobs finish) or resume every queue, declared or found; their names."""
    names = await services.jobs.known(fresh=True)
    for name in names:
        await set_paused(services, name, paused)
    return names


async def obliterate(services: Services, queue: str) -> int:
    """Delete a queue no code declares, with every job, scheduler and figure it holds;
    how many jobs it held. ActionRefused: "declared" (never ours to delete) or "has-active"
    (a job runs: bullmq deletes none then)."""
    if queue in services.jobs.definitions:
        raise ActionRefused("declared")
    bull_queue = services.jobs.queue(queue)
    counts = await read_counts(bull_queue)
    try:
        # bullmq pauses the queue first, then deletes it in batches.
        await bull_queue.obliterate()
    except Exception as error:  # bullmq: "Cannot obliterate queue with active jobs"
        log.info("obliterate refused by bullmq", queue=queue, error=str(error))
        if not counts.paused:
            await bull_queue.resume()
        raise ActionRefused("has-active") from None
    await services.jobs.discover()
    services.job_activity.changed(queue)
    return sum(counts.counts.values())


def _is_id(value: int | None) -> bool:
    return value is not None and is_id(value)
