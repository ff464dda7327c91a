"""What happens when a job has failed for good: the queue's record and the admins' notice.

The notice goes to whoever administers the job (`ailawyer.jobs.access`): a Kanzlei's job to
that Kanzlei's ADMINs, a job of the installation (system, test jobs) to the operators. It is
short, for the bell: queue, Akte, the error's class and first line, the attempts, and a
link to the job's page, which keeps the stack traces. No traceback and no file path goes
into a notification.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from redis.exceptions import RedisError
from sqlalchemy import select

from ailawyer.db.models import Akte, Notification, Severity, User
from ailawyer.domain.roles import Role
from ailawyer.jobs.access import resolve_owner
from ailawyer.jobs.attempts import count_attempts
from ailawyer.jobs.bullmq_adapter import manual_retries, read_job_fields
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

# The error in a notice: its first line, cut to this length.
MAX_ERROR_CHARS = 300
# An absolute file path (two or more parts), not one inside a URL ("redis://h:1/0").
_FILE_PATH = re.compile(r"(?<![\w:/.])(?:/[^\s/'\"()\[\],:;]+){2,}/?")
_TRACEBACK = "Traceback (most recent call last)"
# Pauses between tries to record a final failure: about a minute, a database restart.
RECORD_RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0)


def job_page_path(queue: str, job_id: str) -> str:
    """The job's page in the administration (the route of `app.web.admin.jobs`)."""
    return f"/admin/jobs/queues/{quote(queue, safe='')}/jobs/{quote(job_id, safe='')}"


def short_error(summary: str) -> str:
    """ "Class: message" cut to its first line, file paths left out (they say where our
    files are; the job's page has the whole trace). A message that carries a traceback
    (a wrapped error's) gives its last line, the error it ends in."""
    lines = [line for line in summary.strip().splitlines() if line.strip()]
    if lines and _TRACEBACK in lines[0]:
        lines = lines[-1:]
    first = _FILE_PATH.sub("…", lines[0].strip() if lines else "")
    return first if len(first) <= MAX_ERROR_CHARS else first[: MAX_ERROR_CHARS - 1] + "…"


async def handle_final_failure(
    binding: QueueBinding[Any],
    ctx: JobContext,
    payload: JobPayload | None,
    summary: str,
) -> None:
    """Record the final failure and tell the administrators, exactly once.

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
    error = short_error(summary)
    attempts = count_attempts(ctx.attempt, ctx.max_attempts, await _manual_retries(ctx))
    for delay in (0.0, *RECORD_RETRY_DELAYS_SECONDS):
        await asyncio.sleep(delay)
        try:
            async with services.db.session() as session:
                if payload is not None and binding.on_final_failure is not None:
                    recorded = await binding.on_final_failure(ctx, payload, summary, session)
                else:
                    recorded = await _not_told_yet(session, definition.name, ctx.job_id)
                if recorded:
                    lines = [
                        f"Warteschlange: {definition.name}",
                        *await _akte_line(session, payload),
                        f"Fehler: {error}",
                        f"Versuche: {attempts.text}",
                    ]
                    notice: dict[str, Any] = {
                        "type": JOB_FAILED_ADMIN,
                        "title": f"Vorgang fehlgeschlagen: {definition.label} "
                        f"({definition.name} #{ctx.job_id})",
                        "message": "\n".join(lines),
                        "link": job_page_path(definition.name, ctx.job_id),
                        "severity": Severity.ERROR,
                        "data": {"queue": definition.name, "jobId": ctx.job_id, "error": error},
                    }
                    await _stage_for_administrators(
                        services.notifications, session, definition.name, ctx.job.data, notice
                    )
                await outbox.commit(session)
            if not recorded:
                log.info("failure was already recorded; nobody is told twice")
            return
        except Exception as failure:
            log.warning("recording the final failure failed; trying again", error=repr(failure))
    log.error("the final failure could not be recorded", error=summary)


async def _manual_retries(ctx: JobContext) -> int:
    """How often a person retried the job (0 if Redis cannot say: the notice goes out)."""
    queue = ctx.services.jobs.queue(ctx.queue)
    try:
        return manual_retries(await read_job_fields(queue, ctx.job_id))
    except RedisError as error:
        log.warning("manual retries of the job unknown", error=repr(error))
        return 0


async def _akte_line(session: AsyncSession, payload: JobPayload | None) -> list[str]:
    """ "Akte: 2026/0042" for a job about an Akte that still exists; nothing otherwise."""
    if payload is None or payload.akte_id is None:
        return []
    akte = await session.get(Akte, payload.akte_id)
    return [] if akte is None else [f"Akte: {akte.aktenzeichen}"]


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
