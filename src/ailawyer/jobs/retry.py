"""Retrying a failed job on a person's request: who may, and in which order things happen.

A manual retry starts a fresh series of automatic attempts (bullmq's `attemptsMade` and
`attemptsStarted` begin at 0 again) and is counted in the job's hash, so attempts read
honestly: "4 von 4 automatisch, 2 × manuell wiederholt" (`jobs.attempts`). A job already
removed by retention is enqueued again under its id, from the domain row that holds its
payload, where its queue can rebuild one (a Dokument can).

Both run in the caller's database session (a request's one session), which they commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bullmq import Job
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.dokumente.retry import dokument_payload, dokument_waits_again
from ailawyer.jobs.access import (
    JobPrincipal,
    Verdict,
    holds_kanzlei_jobs,
    resolve_owner,
    retry_verdict,
)
from ailawyer.jobs.bullmq_adapter import count_manual_retry
from ailawyer.jobs.catalog import DOKUMENTE, QUEUES
from ailawyer.jobs.errors import (
    InvalidPayloadError,
    JobAccessDeniedError,
    JobNotFoundError,
    JobNotRetryableError,
)
from ailawyer.jobs.job_ids import is_job_id
from ailawyer.jobs.payloads import JobPayload
from ailawyer.logs import get_logger
from ailawyer.realtime import outbox
from ailawyer.realtime.emitter import Emitter

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger(__name__)

P = TypeVar("P", bound=JobPayload)

# bullmq's retry options: the retried job gets its automatic attempts again.
FRESH_SERIES = {"resetAttemptsMade": True, "resetAttemptsStarted": True}


@dataclass(frozen=True)
class RetryHooks(Generic[P]):
    """What a queue's domain does for a manual retry of one of its jobs."""

    # Resets what the job works on before it waits again, in the given transaction (its
    # events are staged there and sent after the commit); False: nothing failed there.
    reset: Callable[[AsyncSession, Emitter, P], Awaitable[bool]]
    # The payload of a job id whose job is gone, rebuilt from the domain; None: unknown.
    rebuild: Callable[[AsyncSession, str], Awaitable[P | None]]


RETRY_HOOKS: Mapping[str, RetryHooks[Any]] = {
    DOKUMENTE.name: RetryHooks(reset=dokument_waits_again, rebuild=dokument_payload)
}


def has_retry_hook(queue_name: str) -> bool:
    """Whether a failed job of the queue needs its hook run before it waits again."""
    return queue_name in RETRY_HOOKS


async def retry_job(
    services: Services, db: AsyncSession, user: JobPrincipal, queue_name: str, job_id: str
) -> None:
    """Run a failed job again for `user`; raises the JobError that says why not.

    Checked in this order so nobody learns more than they may: the job (or the domain row
    of a removed one) exists and is not another Kanzlei's (404), the user may act on it
    (403, `jobs.access.retry_verdict`), it is failed (409).
    """
    if queue_name not in QUEUES or not is_job_id(queue_name, job_id):
        raise JobNotFoundError(job_id)
    job = await services.jobs.get_job(queue_name, job_id)
    hooks = RETRY_HOOKS.get(queue_name)
    rebuilt: JobPayload | None = None
    if job is None:
        # Removed by retention (failed jobs are kept for days, not for ever).
        rebuilt = await hooks.rebuild(db, job_id) if hooks is not None else None
        if rebuilt is None:
            raise JobNotFoundError(job_id)
    owner = await resolve_owner(db, queue_name, rebuilt.to_job_data() if rebuilt else job.data)
    verdict = await retry_verdict(db, user, owner)
    if verdict is Verdict.HIDDEN:
        raise JobNotFoundError(job_id)
    if verdict is Verdict.FORBIDDEN:
        raise JobAccessDeniedError(job_id)
    if job is not None:
        await requeue_failed_job(services, db, queue_name, job)
        services.job_activity.changed(queue_name, job_id, "waiting", owner.kanzlei_id)
    else:
        assert hooks is not None and rebuilt is not None  # found above
        await _enqueue_again(services, db, queue_name, job_id, hooks, rebuilt)
    log.info("job retried", queue=queue_name, jobId=job_id, byUserId=user.id, rebuilt=job is None)


async def requeue_failed_job(
    services: Services, db: AsyncSession, queue_name: str, job: Job
) -> None:
    """Move a failed job back to waiting, after its queue's retry hook (e.g. Dokument reset).

    Raises JobNotRetryableError if it is not failed (any more). Who may do this is the
    caller's decision (`ailawyer.jobs.access`). A Kanzlei job from before payloads named
    their Kanzlei gets its `kanzleiId` now, so its Kanzlei's ADMIN finds it from then on.
    """
    if await job.getState() != "failed":
        raise JobNotRetryableError(job.id)
    if holds_kanzlei_jobs(queue_name) and "kanzleiId" not in job.data:
        owner = await resolve_owner(db, queue_name, job.data)
        if owner.kanzlei_id is not None:
            await job.updateData({**job.data, "kanzleiId": owner.kanzlei_id})
    hooks = RETRY_HOOKS.get(queue_name)
    # The domain state first: once the job waits again, a worker may start it at once and
    # must find the Dokument (or whatever the queue keeps) ready for another run.
    if hooks is not None:
        try:
            payload = QUEUES[queue_name].validate_payload(job.data)
        except InvalidPayloadError:
            payload = None  # such a job fails again at once; there is nothing to reset
        if payload is not None:
            await hooks.reset(db, services.emitter, payload)
            await outbox.commit(db)
    try:
        # Atomic in Redis: a concurrent retry (or a removal) makes this one fail.
        await job.retry("failed", FRESH_SERIES)
    except Exception as error:
        log.info("job retry refused by bullmq", queue=queue_name, jobId=job.id, error=str(error))
        raise JobNotRetryableError(job.id) from error
    await count_manual_retry(services.jobs.redis, services.jobs.queue(queue_name), str(job.id))


async def _enqueue_again(
    services: Services,
    db: AsyncSession,
    queue_name: str,
    job_id: str,
    hooks: RetryHooks[Any],
    payload: JobPayload,
) -> None:
    """Enqueue a removed job again under its id, once its domain row waits again.

    The row is committed first, as at upload: should the enqueue fail (Redis away), the
    Dokumente recovery finds a waiting Dokument without a job and enqueues it.
    """
    if not await hooks.reset(db, services.emitter, payload):
        await db.rollback()
        raise JobNotRetryableError(job_id)
    await outbox.commit(db)
    job = await services.jobs.enqueue(queue_name, payload, job_id=job_id)
    await count_manual_retry(services.jobs.redis, services.jobs.queue(queue_name), str(job.id))
