"""What happens when a job has failed for good: the queue's hook, then the administrators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ailawyer.db.models import Akte, Kanzlei, Severity, User
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import JobPayload
from ailawyer.logs import get_logger
from ailawyer.notifications.types import JOB_FAILED_ADMIN

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.jobs.registry import QueueDefinition

log = get_logger(__name__)

# Notification text is stored in the database; a traceback longer than this is cut.
MAX_DETAIL_CHARS = 8000


async def _kanzleien_of(session: AsyncSession, payload: JobPayload | None) -> list[int]:
    """The Kanzleien whose admins hear about a job: its Akte's, its user's, else all."""
    if payload is not None and payload.akte_id is not None:
        akte = await session.get(Akte, payload.akte_id)
        if akte is not None:
            return [akte.kanzlei_id]
    if payload is not None and payload.user_id is not None:
        user = await session.get(User, payload.user_id)
        if user is not None:
            return [user.kanzlei_id]
    return list((await session.scalars(select(Kanzlei.id))).all())


async def handle_final_failure(
    definition: QueueDefinition[Any],
    ctx: JobContext,
    payload: JobPayload | None,
    summary: str,
    details: str,
) -> None:
    """Run the queue's failure hook; if it recorded a new failure, give every ADMIN the detail.

    Never raises: the job is failing already, and its bookkeeping in Redis must go on.
    """
    try:
        is_new = True
        if payload is not None and definition.on_final_failure is not None:
            is_new = await definition.on_final_failure(ctx, payload, summary)
        if not is_new:
            log.info("failure was already recorded; nobody is told twice")
            return
        services = ctx.services
        async with services.db.session() as session:
            kanzleien = await _kanzleien_of(session, payload)
        message = (
            f"Warteschlange: {definition.name}\n"
            f"Vorgang: {ctx.job_id}\n"
            f"Versuche: {ctx.job.attemptsMade + 1} von {ctx.max_attempts}\n"
            f"Fehler: {summary}\n\n{details}"
        )[:MAX_DETAIL_CHARS]
        title = f"Vorgang fehlgeschlagen: {definition.label} ({definition.name} #{ctx.job_id})"
        for kanzlei_id in kanzleien:
            await services.notifications.notify_admins(
                kanzlei_id,
                type=JOB_FAILED_ADMIN,
                title=title,
                message=message,
                severity=Severity.ERROR,
                data={"queue": definition.name, "jobId": ctx.job_id, "error": summary},
            )
    except Exception:
        log.exception("handling the final failure failed")
