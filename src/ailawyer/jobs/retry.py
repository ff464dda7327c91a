"""Retrying a failed job on a user's request: who may, and in which order things happen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bullmq import Job
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import User
from ailawyer.domain.access import Principal, get_akte_for_user
from ailawyer.domain.roles import Role
from ailawyer.jobs.errors import (
    InvalidPayloadError,
    JobAccessDeniedError,
    JobNotFoundError,
    JobNotRetryableError,
    UnknownQueueError,
)
from ailawyer.jobs.payloads import JobPayload
from ailawyer.jobs.registry import QUEUES, get_queue_definition
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger(__name__)


async def may_retry(session: AsyncSession, user: Principal, payload: JobPayload) -> bool:
    """The job's own user or an ADMIN of the same Kanzlei, and access to the job's Akte."""
    if not user.aktiv or (user.id != payload.user_id and user.role is not Role.ADMIN):
        return False
    if payload.akte_id is not None:
        return await get_akte_for_user(session, user, payload.akte_id) is not None
    if payload.user_id is not None:
        owner = await session.get(User, payload.user_id)
        return owner is not None and owner.kanzlei_id == user.kanzlei_id
    # A job of nobody in particular (maintenance): a matter for administrators.
    return user.role is Role.ADMIN


async def retry_job(services: Services, user: Principal, queue_name: str, job_id: str) -> Job:
    """Put a failed job back to waiting for `user`; raises the JobError that says why not.

    Checked in this order so nobody learns more than they may: the job exists (404),
    the user may act on it (403), it is failed (409).
    """
    try:
        definition = get_queue_definition(queue_name)
    except UnknownQueueError:
        raise JobNotFoundError(queue_name) from None
    job = await services.jobs.get_job(queue_name, job_id)
    if job is None:
        raise JobNotFoundError(job_id)
    try:
        payload = definition.validate_payload(job.data)
    except InvalidPayloadError:
        raise JobNotFoundError(job_id) from None
    async with services.db.session() as session:
        if not await may_retry(session, user, payload):
            raise JobAccessDeniedError(job_id)
    await requeue_failed_job(services, queue_name, job)
    log.info("job retried", queue=queue_name, jobId=job_id, byUserId=user.id)
    return job


async def requeue_failed_job(services: Services, queue_name: str, job: Job) -> None:
    """Move a failed job back to waiting, after its queue's retry hook (e.g. Dokument reset).

    Raises JobNotRetryableError if it is not failed (any more). Who may do this is the
    caller's decision: `retry_job` checks the job's user, the admin guard the explorer.
    """
    if await job.getState() != "failed":
        raise JobNotRetryableError(job.id)
    definition = QUEUES.get(queue_name)
    # The domain state first: once the job waits again, a worker may start it at once and
    # must find the Dokument (or whatever the queue keeps) ready for another run.
    if definition is not None and definition.on_retry is not None:
        try:
            payload = definition.validate_payload(job.data)
        except InvalidPayloadError:
            payload = None  # such a job fails again at once; there is nothing to reset
        if payload is not None:
            await definition.on_retry(services, payload)
    try:
        # Atomic in Redis: a concurrent retry (or a removal) makes this one fail.
        await job.retry("failed")
    except Exception as error:
        log.info("job retry refused by bullmq", queue=queue_name, jobId=job.id, error=str(error))
        raise JobNotRetryableError(job.id) from error
