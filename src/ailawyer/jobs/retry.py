"""Retrying a failed job on a user's request: who may, and in which order things happen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from bullmq import Job
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.dokumente.retry import dokument_waits_again
from ailawyer.jobs.access import (
    JobPrincipal,
    Verdict,
    holds_kanzlei_jobs,
    resolve_owner,
    retry_verdict,
)
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

# Resets what a queue's job works on before the failed job waits again, in the given
# transaction (its events are staged there and sent after the commit).
RetryHook = Callable[[AsyncSession, Emitter, P], Awaitable[None]]
RETRY_HOOKS: Mapping[str, RetryHook[Any]] = {DOKUMENTE.name: dokument_waits_again}


def has_retry_hook(queue_name: str) -> bool:
    """Whether a failed job of the queue needs its hook run before it waits again."""
    return queue_name in RETRY_HOOKS


async def retry_job(services: Services, user: JobPrincipal, queue_name: str, job_id: str) -> Job:
    """Put a failed job back to waiting for `user`; raises the JobError that says why not.

    Checked in this order so nobody learns more than they may: the job exists and is not
    another Kanzlei's (404), the user may act on it (403, `jobs.access.retry_verdict`), it
    is failed (409).
    """
    if queue_name not in QUEUES or not is_job_id(queue_name, job_id):
        raise JobNotFoundError(job_id)
    job = await services.jobs.get_job(queue_name, job_id)
    if job is None:
        raise JobNotFoundError(job_id)
    async with services.db.session() as session:
        owner = await resolve_owner(session, queue_name, job.data)
        verdict = await retry_verdict(session, user, owner)
    if verdict is Verdict.HIDDEN:
        raise JobNotFoundError(job_id)
    if verdict is Verdict.FORBIDDEN:
        raise JobAccessDeniedError(job_id)
    await requeue_failed_job(services, queue_name, job)
    services.job_activity.changed(queue_name, job_id, "waiting", owner.kanzlei_id)
    log.info("job retried", queue=queue_name, jobId=job_id, byUserId=user.id)
    return job


async def requeue_failed_job(services: Services, queue_name: str, job: Job) -> None:
    """Move a failed job back to waiting, after its queue's retry hook (e.g. Dokument reset).

    Raises JobNotRetryableError if it is not failed (any more). Who may do this is the
    caller's decision (`ailawyer.jobs.access`). A Kanzlei job from before payloads named
    their Kanzlei gets its `kanzleiId` now, so its Kanzlei's ADMIN finds it from then on.
    """
    if await job.getState() != "failed":
        raise JobNotRetryableError(job.id)
    if holds_kanzlei_jobs(queue_name) and "kanzleiId" not in job.data:
        async with services.db.session() as session:
            owner = await resolve_owner(session, queue_name, job.data)
        if owner.kanzlei_id is not None:
            await job.updateData({**job.data, "kanzleiId": owner.kanzlei_id})
    hook = RETRY_HOOKS.get(queue_name)
    # The domain state first: once the job waits again, a worker may start it at once and
    # must find the Dokument (or whatever the queue keeps) ready for another run.
    if hook is not None:
        try:
            payload = QUEUES[queue_name].validate_payload(job.data)
        except InvalidPayloadError:
            payload = None  # such a job fails again at once; there is nothing to reset
        if payload is not None:
            async with services.db.session() as session:
                await hook(session, services.emitter, payload)
                await outbox.commit(session)
    try:
        # Atomic in Redis: a concurrent retry (or a removal) makes this one fail.
        await job.retry("failed")
    except Exception as error:
        log.info("job retry refused by bullmq", queue=queue_name, jobId=job.id, error=str(error))
        raise JobNotRetryableError(job.id) from error
