"""What an administrator can do to jobs and queues; every change goes through bullmq.

Framework-free; the controller asks `ailawyer.jobs.access` who may, asks for
confirmations and writes the audit log. Each function raises ActionRefused with a reason
the page explains in German. Bulk actions touch exactly the jobs the confirmation counted:
those that finished (or, for the waiting states, were created) up to the moment the
confirmation was shown, and say how many of them were each Kanzlei's (for that Kanzlei's
audit log). Every change is also noted for the live updates of other open explorer pages:
the operator's, and those of the Kanzlei whose jobs changed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bullmq import Job

from ailawyer.app.web.admin.jobs.explorer import CLEANABLE_STATES
from ailawyer.jobs.access import holds_kanzlei_jobs, job_owner
from ailawyer.jobs.bullmq_adapter import clean_state, count_up_to, failed_ids_up_to, tally
from ailawyer.jobs.catalog import ADMIN_TEST
from ailawyer.jobs.errors import JobNotRetryableError
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.jobs.retry import has_retry_hook, requeue_failed_job
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.services import Services

log = get_logger(__name__)

# Failed jobs moved per Lua call (bullmq's retryJobs), and read per round when the
# queue's retry hook runs for each job (e.g. resetting its Dokument first).
RETRY_BATCH = 1000
HOOKED_RETRY_BATCH = 100


class ActionRefused(Exception):
    """The action was not done; `reason` names why (the page has a German text for it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BulkOutcome:
    """How many jobs a bulk action touched, and how many of them were each Kanzlei's."""

    count: int
    by_kanzlei: Counter[int] = field(default_factory=Counter)


async def retry_job(
    services: Services, db: AsyncSession, queue: str, job: Job, kanzlei_id: int | None
) -> None:
    """Put one failed job back to waiting (after its queue's retry hook, on `db`: the
    request's session)."""
    try:
        await requeue_failed_job(services, db, queue, job)
    except JobNotRetryableError:
        raise ActionRefused("not-failed") from None
    services.job_activity.changed(queue, str(job.id), "waiting", kanzlei_id)


async def remove_job(services: Services, queue: str, job: Job, kanzlei_id: int | None) -> str:
    """Remove one job that is not running; returns the state it was in."""
    job_id = str(job.id)
    state = await services.jobs.queue(queue).getJobState(job_id)
    result = await services.jobs.queue(queue).remove(job_id)
    if result == 0:
        raise ActionRefused("locked")
    if result != 1:
        # -8: the next run of a job scheduler (retention cleanup); removing it would stop
        # the schedule, which belongs to the worker.
        raise ActionRefused("scheduled")
    services.job_activity.changed(queue, job_id, "removed", kanzlei_id)
    return str(state)


async def promote_job(services: Services, queue: str, job: Job, kanzlei_id: int | None) -> None:
    """Run a delayed job now instead of at its time."""
    try:
        await job.promote()
    except Exception as error:  # bullmq: "Job … is not in the delayed state"
        log.info("promote refused by bullmq", queue=queue, jobId=job.id, error=str(error))
        raise ActionRefused("not-delayed") from None
    services.job_activity.changed(queue, str(job.id), "waiting", kanzlei_id)


async def set_paused(services: Services, queue: str, paused: bool) -> None:
    """Pause (running jobs finish, no new ones start) or resume a queue, for all workers."""
    bull_queue = services.jobs.queue(queue)
    await (bull_queue.pause() if paused else bull_queue.resume())
    services.job_activity.changed(queue)


async def count_affected(services: Services, queue: str, state: str, up_to_ms: int) -> int:
    """How many jobs a bulk action on `state` up to `up_to_ms` touches (for the confirmation):
    those bullmq's clean selects (finished jobs by their finish time, waiting ones all)."""
    if state not in CLEANABLE_STATES:
        raise ActionRefused("invalid")
    return await count_up_to(services.jobs.redis, services.jobs.queue(queue), state, up_to_ms)


async def retry_failed(
    services: Services, db: AsyncSession, queue: str, up_to_ms: int
) -> BulkOutcome:
    """Retry every job that failed up to `up_to_ms`; says how many went back to waiting.
    A queue with a retry hook or Kanzlei jobs retries each job through
    `requeue_failed_job` on `db` (the request's session), so the hook runs and its Kanzlei
    is counted."""
    if holds_kanzlei_jobs(queue) or has_retry_hook(queue):
        outcome = await _retry_each(services, db, queue, up_to_ms)
    else:
        # The installation's jobs only: bullmq moves them in batches, nobody's to count.
        before = await count_affected(services, queue, "failed", up_to_ms)
        await services.jobs.queue(queue).retryJobs(
            {"state": "failed", "count": RETRY_BATCH, "timestamp": up_to_ms}
        )
        outcome = BulkOutcome(before - await count_affected(services, queue, "failed", up_to_ms))
    _note_bulk_change(services, queue, outcome)
    return outcome


async def _retry_each(
    services: Services, db: AsyncSession, queue: str, up_to_ms: int
) -> BulkOutcome:
    bull_queue = services.jobs.queue(queue)
    retried = skipped = 0
    by_kanzlei: Counter[int] = Counter()
    while True:
        # Retried jobs leave the set; those refused stay and are stepped over.
        ids = await failed_ids_up_to(
            services.jobs.redis, bull_queue, up_to_ms, start=skipped, count=HOOKED_RETRY_BATCH
        )
        if not ids:
            return BulkOutcome(retried, by_kanzlei)
        for job_id in ids:
            job = await services.jobs.get_job(queue, job_id)
            try:
                if job is None:
                    raise JobNotRetryableError(job_id)
                await requeue_failed_job(services, db, queue, job)
            except JobNotRetryableError:
                skipped += 1
            else:
                retried += 1
                kanzlei_id = job_owner(queue, job.data).kanzlei_id
                if kanzlei_id is not None:
                    by_kanzlei[kanzlei_id] += 1


async def clean(services: Services, queue: str, state: str, up_to_ms: int) -> BulkOutcome:
    """Remove the jobs of `state` up to `up_to_ms` (see `count_affected`); says how many.

    Each Kanzlei's share is counted just before (a removed job's data is gone): a job
    that finishes or is removed in between can make those shares differ by one from what
    was removed.
    """
    if state not in CLEANABLE_STATES:
        raise ActionRefused("invalid")
    bull_queue = services.jobs.queue(queue)
    by_kanzlei: Counter[int] = Counter()
    if holds_kanzlei_jobs(queue):
        shares = await tally(services.jobs.redis, bull_queue, state, up_to_ms)
        by_kanzlei.update({k: n for k, n in shares.items() if k is not None})
    removed = await clean_state(bull_queue, state, up_to_ms)
    outcome = BulkOutcome(removed, by_kanzlei)
    _note_bulk_change(services, queue, outcome)
    return outcome


def _note_bulk_change(services: Services, queue: str, outcome: BulkOutcome) -> None:
    """A change of many jobs: every open page of the queue, and of each Kanzlei touched."""
    services.job_activity.changed(queue)
    for kanzlei_id in outcome.by_kanzlei:
        services.job_activity.changed(queue, kanzlei_id=kanzlei_id)


async def start_test_job(services: Services, payload: AdminTestPayload) -> Job:
    """Enqueue a job of the `test` queue (it announces itself like every enqueue)."""
    return await services.jobs.enqueue(ADMIN_TEST.name, payload)
