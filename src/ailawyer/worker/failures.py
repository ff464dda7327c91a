"""What happens when a job has failed for good: the queue's record and the admins' notice.

The full error goes to whoever administers the job (`ailawyer.jobs.access`): a Kanzlei's
job to that Kanzlei's ADMINs, a job of the installation (system, test jobs) to the operators.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ailawyer.db.models import Notification, Severity, User
from ailawyer.domain.roles import Role
from ailawyer.jobs.access import resolve_owner
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import JobPayload
from ailawyer.logs import get_logger
from ailawyer.notifications.types import JOB_FAILED_ADMIN
from ailawyer.realtime import outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.notifications.service import NotificationService
    from ailawyer.worker.bindings import QueueBinding

log = get_logger(__name__)

# Notification text is stored in the database; a traceback longer than this is cut.
MAX_DETAIL_CHARS = 8000
# Pauses between tries to record a final failure: about a minute, a database restart.
RECORD_RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)


async def handle_final_failure(
    binding: QueueBinding[Any],
    ctx: JobContext,
    payload: JobPayload | None,
    summary: str,
    details: str,
) -> None:
    """Record the final failure and tell every ADMIN the detail, exactly once.

    One transaction holds the queue hook's record (e.g. the Dokument marked failed, with
    the uploader's notice) and the administrators' notifications; the commit sends their
    events (`outbox.commit`). A crash in between therefore cannot keep the record and lose
    the notice. Without a hook, the administrators' notice itself is the record. A failing
    try (the database restarting) is repeated for about a minute: given up at once,
    nobody would ever be told. The job keeps its lock meanwhile (bullmq renews it while
    the processor runs). Never raises: bullmq's bookkeeping must go on.
    """
    services = ctx.services
    definition = binding.definition
    message = (
        f"Warteschlange: {definition.name}\n"
        f"Vorgang: {ctx.job_id}\n"
        f"Versuche: {ctx.job.attemptsMade + 1} von {ctx.max_attempts}\n"
        f"Fehler: {summary}\n\n{details}"
    )[:MAX_DETAIL_CHARS]
    notice: dict[str, Any] = {
        "type": JOB_FAILED_ADMIN,
        "title": f"Vorgang fehlgeschlagen: {definition.label} ({definition.name} #{ctx.job_id})",
        "message": message,
        "severity": Severity.ERROR,
        "data": {"queue": definition.name, "jobId": ctx.job_id, "error": summary},
    }
    for delay in (0.0, *RECORD_RETRY_DELAYS_SECONDS):
        await asyncio.sleep(delay)
        try:
            async with services.db.session() as session:
                if payload is not None and binding.on_final_failure is not None:
                    recorded = await binding.on_final_failure(ctx, payload, summary, session)
                else:
                    recorded = await _not_told_yet(session, definition.name, ctx.job_id)
                if recorded:
                    await _stage_for_administrators(
                        services.notifications, session, definition.name, ctx.job.data, notice
                    )
                await outbox.commit(session)
            if not recorded:
                log.info("failure was already recorded; nobody is told twice")
            return
        except Exception as error:
            log.warning("recording the final failure failed; trying again", error=repr(error))
    log.error("the final failure could not be recorded", error=summary)


async def _stage_for_administrators(
    notifications: NotificationService,
    session: AsyncSession,
    queue: str,
    job_data: Any,
    notice: dict[str, Any],
) -> None:
    """Stage the notice for whoever administers the job (`ailawyer.jobs.access`)."""
    owner = await resolve_owner(session, queue, job_data)
    if owner.kanzlei_id is not None:
        await notifications.stage_role(session, owner.kanzlei_id, Role.ADMIN, **notice)
        return
    # The installation's job: its errors are no Kanzlei's business.
    operators = await session.scalars(
        select(User.id).where(User.is_operator, User.aktiv).order_by(User.id)
    )
    for user_id in operators.all():
        await notifications.stage_user(session, user_id, **notice)


async def _not_told_yet(session: AsyncSession, queue: str, job_id: str) -> bool:
    """Whether no administrators' notice exists for this job yet.

    A run is repeated only after the process that ran it died, so that process's
    transaction has committed or rolled back by then; the check sees its result.
    """
    told = await session.scalar(
        select(Notification.id)
        .where(
            Notification.type == JOB_FAILED_ADMIN.key,
            Notification.data["queue"].as_string() == queue,
            Notification.data["jobId"].as_string() == job_id,
        )
        .limit(1)
    )
    return told is None
