"""What an administrator can do to jobs and queues; every change goes through bullmq.

Framework-free; the controller checks the role, asks for confirmations and writes the
audit log. Each function raises ActionRefused with a reason the page explains in German.
Bulk actions touch exactly the jobs the confirmation counted: those that finished (or,
for the waiting states, were created) up to the moment the confirmation was shown.
Every change is also noted for the live updates of other open explorer pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bullmq import Job

from ailawyer.admin.jobs.explorer import CLEANABLE_STATES, state_key
from ailawyer.jobs.errors import JobNotRetryableError
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.jobs.registry import ADMIN_TEST
from ailawyer.jobs.retry import requeue_failed_job
from ailawyer.logs import get_logger
from ailawyer.worker.maintenance import clean_state

if TYPE_CHECKING:
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


async def _job(services: Services, queue: str, job_id: str) -> Job:
    job = await services.jobs.get_job(queue, job_id)
    if job is None:
        raise ActionRefused("not-found")
    return job


async def retry_job(services: Services, queue: str, job_id: str) -> None:
    """Put one failed job back to waiting (after its queue's retry hook)."""
    job = await _job(services, queue, job_id)
    try:
        await requeue_failed_job(services, queue, job)
    except JobNotRetryableError:
        raise ActionRefused("not-failed") from None
    services.job_activity.changed(queue, job_id, "waiting")


async def remove_job(services: Services, queue: str, job_id: str) -> str:
    """Remove one job that is not running; returns the state it was in."""
    await _job(services, queue, job_id)
    state = await services.jobs.queue(queue).getJobState(job_id)
    result = await services.jobs.queue(queue).remove(job_id)
    if result == 0:
        raise ActionRefused("locked")
    if result != 1:
        # -8: the next run of a job scheduler (retention cleanup); removing it would stop
        # the schedule, which belongs to the worker.
        raise ActionRefused("scheduled")
    services.job_activity.changed(queue, job_id, "removed")
    return str(state)


async def promote_job(services: Services, queue: str, job_id: str) -> None:
    """Run a delayed job now instead of at its time."""
    job = await _job(services, queue, job_id)
    try:
        await job.promote()
    except Exception as error:  # bullmq: "Job … is not in the delayed state"
        log.info("promote refused by bullmq", queue=queue, jobId=job_id, error=str(error))
        raise ActionRefused("not-delayed") from None
    services.job_activity.changed(queue, job_id, "waiting")


async def set_paused(services: Services, queue: str, paused: bool) -> None:
    """Pause (running jobs finish, no new ones start) or resume a queue, for all workers."""
    bull_queue = services.jobs.queue(queue)
    await (bull_queue.pause() if paused else bull_queue.resume())
    services.job_activity.changed(queue)


async def count_affected(services: Services, queue: str, state: str, up_to_ms: int) -> int:
    """How many jobs a bulk action on `state` up to `up_to_ms` touches (for the confirmation).

    Mirrors bullmq's selection: finished jobs by their finish time (the score of their
    set); waiting ones all of them (the wait list has no times).
    """
    if state not in CLEANABLE_STATES:
        raise ActionRefused("invalid")
    bull_queue = services.jobs.queue(queue)
    key = bull_queue.toKey(state_key(state))
    redis = services.jobs.redis
    if state == "waiting":
        return int(await redis.llen(key))
    if state in ("completed", "failed"):
        return int(await redis.zcount(key, "-inf", up_to_ms))
    return int(await redis.zcard(key))


async def retry_failed(services: Services, queue: str, up_to_ms: int) -> int:
    """Retry every job that failed up to `up_to_ms`; returns how many went back to waiting."""
    definition = services.jobs.definitions.get(queue)
    if definition is not None and definition.on_retry is not None:
        count = await _retry_one_by_one(services, queue, up_to_ms)
    else:
        before = await count_affected(services, queue, "failed", up_to_ms)
        await services.jobs.queue(queue).retryJobs(
            {"state": "failed", "count": RETRY_BATCH, "timestamp": up_to_ms}
        )
        count = before - await count_affected(services, queue, "failed", up_to_ms)
    services.job_activity.changed(queue)
    return count


async def _retry_one_by_one(services: Services, queue: str, up_to_ms: int) -> int:
    """Each job through `requeue_failed_job`, so the queue's retry hook runs for it."""
    key = services.jobs.queue(queue).toKey("failed")
    retried = skipped = 0
    while True:
        # Retried jobs leave the set; those refused stay and are stepped over.
        ids = await services.jobs.redis.zrangebyscore(
            key, "-inf", up_to_ms, start=skipped, num=HOOKED_RETRY_BATCH
        )
        if not ids:
            return retried
        for job_id in ids:
            job = await services.jobs.get_job(queue, job_id)
            try:
                if job is None:
                    raise JobNotRetryableError(job_id)
                await requeue_failed_job(services, queue, job)
            except JobNotRetryableError:
                skipped += 1
            else:
                retried += 1


async def clean(services: Services, queue: str, state: str, up_to_ms: int) -> int:
    """Remove the jobs of `state` up to `up_to_ms` (see `count_affected`); returns how many."""
    if state not in CLEANABLE_STATES:
        raise ActionRefused("invalid")
    removed = await clean_state(services.jobs.queue(queue), state_key(state), up_to_ms)
    services.job_activity.changed(queue)
    return removed


async def start_test_job(services: Services, payload: AdminTestPayload) -> Job:
    """Enqueue a job of the `test` queue (it announces itself like every enqueue)."""
    return await services.jobs.enqueue(ADMIN_TEST.name, payload)
