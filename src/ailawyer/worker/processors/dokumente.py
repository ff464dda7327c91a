"""The `dokumente` queue: read an uploaded PDF with pypdf and store page count and text.

A failure is one of two kinds:
- the file itself (damaged, password protected, over a limit: `PdfRefusedError`): the
  same file fails the same way every time, so the job fails at once (bullmq retries no
  UnrecoverableError) and the uploader reads why, in German;
- anything else (the database or Redis away, the storage, a reader killed from outside):
  bullmq retries it with the backoff, and until then the Dokument says which attempt is
  due when (`status.mark_retrying`).
The final failure of either kind is recorded by `record_dokument_failure`, the queue's
final-failure hook, together with everyone's notifications (`worker.failures`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bullmq.custom_errors import UnrecoverableError

from ailawyer.config import Settings
from ailawyer.db.models import Dokument, Severity, utcnow
from ailawyer.dokumente import status, wording
from ailawyer.dokumente.pdf import PdfLimits, PdfRefusedError, extract_pdf
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.options import backoff_delay_ms
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.logs import get_logger
from ailawyer.notifications.types import JOB_COMPLETED, JOB_FAILED
from ailawyer.realtime import events, outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.services import Services

log = get_logger(__name__)

COMPLETED_TITLE = "Dokument verarbeitet"
RETRY_LABEL = "Erneut versuchen"
# How long noting a failure on the Dokument may take: its cause may be the database itself,
# and the failure must reach bullmq (and its backoff) regardless.
NOTE_SECONDS = 5.0


class UnprocessableFileError(UnrecoverableError):
    """The file is the problem (a `PdfRefusedError`); trying again cannot help."""


def akte_path(akte_id: int) -> str:
    return f"/akten/{akte_id}"


def pdf_limits(settings: Settings) -> PdfLimits:
    return PdfLimits(
        max_pages=settings.pdf_max_pages,
        max_text_chars=settings.pdf_max_text_chars,
        max_seconds=settings.pdf_max_seconds,
        max_memory_mb=settings.pdf_max_memory_mb,
    )


async def _load(services: Services, dokument_id: int) -> Dokument | None:
    async with services.db.session() as session:
        return await session.get(Dokument, dokument_id)


async def _notify_uploader(
    services: Services, session: AsyncSession, payload: DokumentPayload, **content: Any
) -> None:
    """Stage the uploader's notification in the transaction of the change that owes it."""
    if payload.user_id is None:
        return
    # A user who is gone has nobody to tell; the change still counts.
    with suppress(LookupError):
        await services.notifications.stage_user(session, payload.user_id, **content)


async def process_dokument(ctx: JobContext, payload: DokumentPayload) -> dict[str, Any]:
    """Extract page count and text; safe to run twice (the second run changes nothing).

    A refused file fails for good at once; any other error is retried by bullmq, the
    Dokument saying when (none after the last attempt: the final failure is recorded then).
    """
    try:
        return await _process(ctx, payload)
    except PdfRefusedError as refused:
        await ctx.log(f"Abgelehnt: {refused.reason}")
        await _noted(_note_refusal(ctx.services, payload, refused.reason))
        raise UnprocessableFileError(f"{type(refused).__name__}: {refused}") from refused
    except UnrecoverableError:
        raise
    except Exception:
        if not ctx.is_last_attempt:
            await _noted(_note_retry(ctx, payload))
        raise


async def _process(ctx: JobContext, payload: DokumentPayload) -> dict[str, Any]:
    services = ctx.services
    dokument = await _load(services, payload.dokument_id)
    if dokument is None:
        await ctx.log("Dokument wurde gelöscht; nichts zu tun")
        return {"skipped": "deleted"}
    async with services.db.session() as session:
        started = await status.mark_in_progress(session, services.emitter, dokument)
        if not started and await status.mark_pending(session, services.emitter, dokument):
            # It failed for good, and its job runs again: retried by any client (Bull Board,
            # Node, a script — ours resets the Dokument before, `dokument_waits_again`).
            # Every retry does what ours does, so the queue behaves the same whoever moves
            # it. A processed Dokument stays as it is (mark_pending takes only a failed one).
            await ctx.log("Dokument war fehlgeschlagen; wird erneut verarbeitet")
            started = await status.mark_in_progress(session, services.emitter, dokument)
        await outbox.commit(session)
    if not started:
        await ctx.log("Dokument ist bereits verarbeitet; nichts zu tun")
        return {"skipped": "already-processed"}

    async def on_page(page: int, pages: int) -> None:
        percent = round(page * 100 / pages)
        await ctx.progress(percent)
        await ctx.log(f"Seite {page}/{pages} gelesen")
        await status.announce(
            services.emitter,
            dokument.akte_id,
            events.DOKUMENT_PROGRESS,
            {"dokumentId": dokument.id, "progress": percent},
        )

    path = DokumentStorage(services.settings.upload_dir).path(dokument.storage_key)
    await ctx.log(f"PDF wird gelesen ({dokument.size_bytes} Bytes)")
    extracted = await extract_pdf(path, on_page, limits=pdf_limits(services.settings))
    async with services.db.session() as session:
        # Only the run that completes it tells the uploader, in the same transaction.
        if await status.mark_completed(session, services.emitter, dokument, extracted):
            await _notify_uploader(
                services,
                session,
                payload,
                type=JOB_COMPLETED,
                title=COMPLETED_TITLE,
                message=wording.completed_de(
                    dokument.dateiname, extracted.page_count, wording.has_text(extracted.text)
                ),
                link=akte_path(dokument.akte_id),
                severity=Severity.SUCCESS,
                data={"dokumentId": dokument.id, "akteId": dokument.akte_id},
            )
        await outbox.commit(session)
    await ctx.log(f"Fertig: {wording.pages_de(extracted.page_count)}")
    return {"pages": extracted.page_count, "characters": len(extracted.text)}


async def _noted(note: Awaitable[None]) -> None:
    """Note a failure on the Dokument, best effort: never delay or hide the failure itself."""
    try:
        async with asyncio.timeout(NOTE_SECONDS):
            await note
    except Exception as error:
        log.warning("the failure could not be noted on the Dokument", error=repr(error))


async def _note_refusal(services: Services, payload: DokumentPayload, reason: str) -> None:
    async with services.db.session() as session:
        dokument = await session.get(Dokument, payload.dokument_id)
        if dokument is not None:
            await status.note_refusal(session, dokument, reason)
            await session.commit()


async def _note_retry(ctx: JobContext, payload: DokumentPayload) -> None:
    """The Dokument waits for the next automatic attempt; when bullmq runs it, with the
    delay bullmq's backoff strategy gives (`jobs.options`) for the attempt that failed."""
    services = ctx.services
    due = utcnow() + timedelta(milliseconds=backoff_delay_ms(services.settings, ctx.attempt))
    async with services.db.session() as session:
        dokument = await session.get(Dokument, payload.dokument_id)
        if dokument is None:
            return
        await status.mark_retrying(
            session,
            services.emitter,
            dokument,
            next_attempt=ctx.attempt + 1,
            max_attempts=ctx.max_attempts,
            due=due,
        )
        await outbox.commit(session)
    zone = services.settings.display_zone
    await ctx.log(wording.retrying_de(ctx.attempt + 1, ctx.max_attempts, due, zone))


async def record_dokument_failure(
    ctx: JobContext, payload: DokumentPayload, error: str, session: AsyncSession
) -> bool:
    """Mark the Dokument failed for good and offer the uploader a retry, with the reason in
    German (the file's, noted by the run; else a technical one) and no technical detail.

    In the caller's transaction, which tells the administrators too; False if it already
    was marked (a run repeated after a stall), so nobody is told twice.
    """
    services = ctx.services
    dokument = await session.get(Dokument, payload.dokument_id)
    if dokument is None:
        return False
    reason = dokument.failure_reason or wording.TECHNICAL_REASON
    if not await status.mark_failed(session, services.emitter, dokument, error, reason):
        return False
    await _notify_uploader(
        services,
        session,
        payload,
        type=JOB_FAILED,
        title=wording.FAILED_TITLE,
        message=wording.failed_de(dokument.dateiname, reason),
        link=akte_path(dokument.akte_id),
        severity=Severity.ERROR,
        data={"dokumentId": dokument.id, "akteId": dokument.akte_id, "jobId": ctx.job_id},
        action={"label": RETRY_LABEL, "url": ctx.retry_path, "method": "POST"},
    )
    return True
