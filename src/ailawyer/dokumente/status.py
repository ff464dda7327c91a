"""A Dokument's processing status: each change is a conditional UPDATE plus an Akte event.

Transitions: AUSSTEHEND → IN_BEARBEITUNG → ABGESCHLOSSEN | FEHLGESCHLAGEN; an attempt that
failed for a passing cause goes back to AUSSTEHEND with the automatic retry that is due
(`mark_retrying`); FEHLGESCHLAGEN → AUSSTEHEND on a manual retry. Each transition claims
the row with a condition in the caller's transaction and reports whether this call made
the change, so a processor that runs twice (after a stall) completes or fails the
Dokument, and tells the user, only once: the caller stages the notification the change
owes in the same transaction. The Akte's status event is staged there too and sent after
the commit (`outbox.commit`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente.pdf import ExtractedPdf
from ailawyer.realtime import events, outbox
from ailawyer.realtime.emitter import Emitter

UNFINISHED = (DokumentStatus.AUSSTEHEND, DokumentStatus.IN_BEARBEITUNG)
# Every change of status forgets the retry that was due: it is either running or over.
_NO_RETRY_DUE: dict[str, object] = {
    "next_attempt": None,
    "max_attempts": None,
    "next_attempt_at": None,
}


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
        .values(status=status, **{**_NO_RETRY_DUE, **values})
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
        failure_reason=None,
    )


async def mark_retrying(
    session: AsyncSession,
    emitter: Emitter,
    dokument: Dokument,
    *,
    next_attempt: int,
    max_attempts: int,
    due: datetime,
) -> bool:
    """An attempt failed for a passing cause: the Dokument waits for the automatic retry
    `next_attempt` of `max_attempts`, due at `due` (the row says so)."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.AUSSTEHEND,
        allowed_from=UNFINISHED,
        next_attempt=next_attempt,
        max_attempts=max_attempts,
        next_attempt_at=due,
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
        failure_reason=None,
    )


async def note_refusal(session: AsyncSession, dokument: Dokument, reason: str) -> None:
    """Keep why the file itself cannot be processed (German) until the final failure is
    recorded (`mark_failed`, from the job's failure hook); no status change yet."""
    await session.execute(
        update(Dokument)
        .where(Dokument.id == dokument.id, Dokument.status.in_(UNFINISHED))
        .values(failure_reason=reason)
        .execution_options(synchronize_session=False)
    )


async def mark_failed(
    session: AsyncSession, emitter: Emitter, dokument: Dokument, error: str, reason: str
) -> bool:
    """Record the final failure: the technical `error` for administrators, the German
    `reason` for the uploader; True only for the first call."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.FEHLGESCHLAGEN,
        allowed_from=UNFINISHED,
        error=error,
        failure_reason=reason,
    )


async def mark_pending(session: AsyncSession, emitter: Emitter, dokument: Dokument) -> bool:
    """A failed Dokument goes back to waiting for a manual retry; False if it had not failed."""
    return await _transition(
        session,
        emitter,
        dokument,
        DokumentStatus.AUSSTEHEND,
        allowed_from=(DokumentStatus.FEHLGESCHLAGEN,),
        error=None,
        failure_reason=None,
    )
