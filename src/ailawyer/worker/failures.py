"""What happens when a job has failed for good: the queue's hook, then the administrators."""

from __future__ import annotations

import asyncio
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
# Pauses between tries to record a final failure: about a minute, a database restart.
RECORD_RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)


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
    A failing step (the database restarting) is tried again for about a minute: given up
    at once, the Dokument would stay "in Bearbeitung" and nobody would ever be told. The
    job keeps its lock meanwhile (bullmq renews it while the processor runs). Steps that
    succeeded are not repeated, so nobody is told twice.
    """
    services = ctx.services
    hook_pending = payload is not None and definition.on_final_failure is not None
    is_new = True
    told: set[int] = set()
    message = (
        f"Warteschlange: {definition.name}\n"
        f"Vorgang: {ctx.job_id}\n"
        f"Versuche: {ctx.job.attemptsMade + 1} von {ctx.max_attempts}\n"
        f"Fehler: {summary}\n\n{details}"
    )[:MAX_DETAIL_CHARS]
    title = f"Vorgang fehlgeschlagen: {definition.label} ({definition.name} #{ctx.job_id})"
    for delay in (0.0, *RECORD_RETRY_DELAYS_SECONDS):
        await asyncio.sleep(delay)
        try:
            if hook_pending:
                assert payload is not None and definition.on_final_failure is not None
                is_new = await definition.on_final_failure(ctx, payload, summary)
                hook_pending = False
            if not is_new:
                log.info("failure was already recorded; nobody is told twice")
                return
            async with services.db.session() as session:
                kanzleien = await _kanzleien_of(session, payload)
            for kanzlei_id in kanzleien:
                if kanzlei_id in told:
                    continue
                await services.notifications.notify_admins(
                    kanzlei_id,
                    type=JOB_FAILED_ADMIN,
                    title=title,
                    message=message,
                    severity=Severity.ERROR,
                    data={"queue": definition.name, "jobId": ctx.job_id, "error": summary},
                )
                told.add(kanzlei_id)
            return
        except Exception as error:
            log.warning("recording the final failure failed; trying again", error=repr(error))
    log.error("the final failure could not be recorded", error=summary)
