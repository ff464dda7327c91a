"""A Dokument's processing status: each change is a conditional UPDATE plus an Akte event.

Transitions: AUSSTEHEND → IN_BEARBEITUNG → ABGESCHLOSSEN | FEHLGESCHLAGEN, and
FEHLGESCHLAGEN → AUSSTEHEND on retry. Each transition claims the row with a condition in
the caller's transaction and reports whether this call made the change, so a processor
that runs twice (after a stall) completes or fails the Dokument, and tells the user, only
once: the caller stages the notification the change owes in the same transaction. The
Akte's status event is staged there too and sent after the commit (`outbox.commit`).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente.pdf import ExtractedPdf
from ailawyer.realtime import events, outbox
from ailawyer.realtime.emitter import Emitter

UNFINISHED = (DokumentStatus.AUSSTEHEND, DokumentStatus.IN_BEARBEITUNG)


async def announce(emitter: Emitter, akte_id: int, event: str, data: dict[str, object]) -> None:
    """Tell the Akte's open pages now, best effort (the page shows the database on reload);
    for what no transaction reports (progress, a Dokument whose job was enqueued)."""
    await emitter.to_akte(akte_id).send(event, {"akteId": akte_id, **data})


async def _transition(
    session: AsyncSession,
    emitter: Emitter,
    dokument: Dokument,
    status: DokumentStatus,
    *,
    allowed_from: tuple[DokumentStatus, ...],
    **values: object,
) -> bool:
    result = await session.execute(
        update(Dokument)
        .where(Dokument.id == dokument.id, Dokument.status.in_(allowed_from))
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    changed = bool(result.rowcount)
    if changed:
        outbox.stage(
            session,
            emitter.to_akte(dokument.akte_id),
            events.DOKUMENT_STATUS,
            {"akteId": dokument.akte_id, "dokumentId": dokument.id, "status": status.value},
        )
    return changed


async def mark_in_progress(session: AsyncSession, emitter: Emitter, dokument: Dokument) -> bool:
    """The worker starts on it (again); a finished Dokument stays as it is."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.IN_BEARBEITUNG,
        allowed_from=UNFINISHED,
        error=None,
    )


async def mark_completed(
    session: AsyncSession, emitter: Emitter, dokument: Dokument, extracted: ExtractedPdf
) -> bool:
    """Store the result; True only for the call that completed it (and owes its notice)."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.ABGESCHLOSSEN,
        allowed_from=UNFINISHED,
        page_count=extracted.page_count,
        extracted_text=extracted.text,
        error=None,
    )


async def mark_failed(
    session: AsyncSession, emitter: Emitter, dokument: Dokument, error: str
) -> bool:
    """Record the final failure (full error, for admins); True only for the first call."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.FEHLGESCHLAGEN,
        allowed_from=UNFINISHED,
        error=error,
    )


async def mark_pending(session: AsyncSession, emitter: Emitter, dokument: Dokument) -> bool:
    """A failed Dokument goes back to waiting for a retry."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.AUSSTEHEND,
        allowed_from=(DokumentStatus.FEHLGESCHLAGEN,),
        error=None,
    )
