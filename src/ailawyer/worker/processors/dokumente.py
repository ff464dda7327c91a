"""The `dokumente` queue: read an uploaded PDF with pypdf and store page count and text."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

from bullmq.custom_errors import UnrecoverableError

from ailawyer.config import Settings
from ailawyer.db.models import Dokument, DokumentStatus, Severity
from ailawyer.dokumente import status
from ailawyer.dokumente.pdf import PdfLimitExceededError, PdfLimits, extract_pdf
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.notifications.types import JOB_COMPLETED, JOB_FAILED
from ailawyer.realtime import events, outbox

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.services import Services

FAILED_TITLE = "PDF-Verarbeitung fehlgeschlagen. Erneut versuchen?"
REFUSED_TITLE = "PDF kann nicht verarbeitet werden"
COMPLETED_TITLE = "Dokument verarbeitet"
RETRY_LABEL = "Erneut versuchen"


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
    """Extract page count and text; safe to run twice (the second run changes nothing)."""
    services = ctx.services
    dokument = await _load(services, payload.dokument_id)
    if dokument is None:
        await ctx.log("Dokument wurde gelöscht; nichts zu tun")
        return {"skipped": "deleted"}
    async with services.db.session() as session:
        started = await status.mark_in_progress(session, services.emitter, dokument)
        await outbox.commit(session)
    if not started:
        current = await _load(services, payload.dokument_id)
        if current is not None and current.status is DokumentStatus.FEHLGESCHLAGEN:
            # Failed for good while this run was pending (a crash between the failure and
            # bullmq's bookkeeping): end failed too, so the retry button works.
            raise UnrecoverableError("Dokument is already marked as failed")
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
    try:
        extracted = await extract_pdf(path, on_page, limits=pdf_limits(services.settings))
    except PdfLimitExceededError as refused:
        await ctx.log(f"Abgelehnt: {refused}")
        await record_dokument_refusal(ctx, payload, str(refused))
        # No retries: the same file reaches the same limit. The failure is recorded, so
        # the final-failure hook finds it marked and tells nobody a second time.
        raise UnrecoverableError(str(refused)) from refused
    async with services.db.session() as session:
        # Only the run that completes it tells the uploader, in the same transaction.
        if await status.mark_completed(session, services.emitter, dokument, extracted):
            await _notify_uploader(
                services,
                session,
                payload,
                type=JOB_COMPLETED,
                title=COMPLETED_TITLE,
                message=f"„{dokument.dateiname}“ ist verarbeitet ({extracted.page_count} Seiten).",
                link=akte_path(dokument.akte_id),
                severity=Severity.SUCCESS,
                data={"dokumentId": dokument.id, "akteId": dokument.akte_id},
            )
        await outbox.commit(session)
    await ctx.log(f"Fertig: {extracted.page_count} Seiten")
    return {"pages": extracted.page_count, "characters": len(extracted.text)}


async def record_dokument_failure(
    ctx: JobContext, payload: DokumentPayload, error: str, session: AsyncSession
) -> bool:
    """Mark the Dokument failed and offer the uploader a retry (no technical detail), in
    the caller's transaction (which tells the administrators too); False if it already was."""
    services = ctx.services
    dokument = await session.get(Dokument, payload.dokument_id)
    if dokument is None or not await status.mark_failed(session, services.emitter, dokument, error):
        return False
    await _notify_uploader(
        services,
        session,
        payload,
        type=JOB_FAILED,
        title=FAILED_TITLE,
        message=f"„{dokument.dateiname}“ konnte nicht verarbeitet werden.",
        link=akte_path(dokument.akte_id),
        severity=Severity.ERROR,
        data={"dokumentId": dokument.id, "akteId": dokument.akte_id, "jobId": ctx.job_id},
        action={"label": RETRY_LABEL, "url": ctx.retry_path, "method": "POST"},
    )
    return True


async def record_dokument_refusal(ctx: JobContext, payload: DokumentPayload, reason: str) -> None:
    """Mark the Dokument failed and tell the uploader the (German) reason; no retry offered."""
    services = ctx.services
    dokument = await _load(services, payload.dokument_id)
    error = f"{PdfLimitExceededError.__name__}: {reason}"
    if dokument is None:
        return
    async with services.db.session() as session:
        if await status.mark_failed(session, services.emitter, dokument, error):
            await _notify_uploader(
                services,
                session,
                payload,
                type=JOB_FAILED,
                title=REFUSED_TITLE,
                message=f"„{dokument.dateiname}“: {reason}",
                link=akte_path(dokument.akte_id),
                severity=Severity.ERROR,
                data={"dokumentId": dokument.id, "akteId": dokument.akte_id, "jobId": ctx.job_id},
            )
        await outbox.commit(session)
