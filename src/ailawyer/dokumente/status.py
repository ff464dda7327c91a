"""A Dokument's processing status: each change is a conditional UPDATE, then an Akte event.

Transitions: AUSSTEHEND → IN_BEARBEITUNG → ABGESCHLOSSEN | FEHLGESCHLAGEN, and
FEHLGESCHLAGEN → AUSSTEHEND on retry. The final transitions claim the row with a
condition and report whether this call made the change, so a processor that runs twice
(after a stall) completes or fails the Dokument, and tells the user, only once; the
notification commits in the same transaction as the change it reports.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import update

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente.pdf import ExtractedPdf
from ailawyer.logs import get_logger
from ailawyer.notifications.service import Notice
from ailawyer.realtime import events

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger(__name__)

# The row is committed; a hanging Redis must not hold up the job.
EMIT_TIMEOUT_SECONDS = 5.0
UNFINISHED = (DokumentStatus.AUSSTEHEND, DokumentStatus.IN_BEARBEITUNG)


async def announce(services: Services, akte_id: int, event: str, data: dict[str, object]) -> None:
    """Tell the Akte's open pages; best effort (the page shows the database on reload)."""
    try:
        async with asyncio.timeout(EMIT_TIMEOUT_SECONDS):
            await services.emitter.to_akte(akte_id).emit(event, {"akteId": akte_id, **data})
    except Exception as error:
        log.warning("dokument event not sent", event=event, error=repr(error))


async def _transition(
    services: Services,
    dokument: Dokument,
    status: DokumentStatus,
    *,
    allowed_from: tuple[DokumentStatus, ...],
    notify: Notice | None = None,
    **values: object,
) -> bool:
    async with services.db.session() as session:
        result = await session.execute(
            update(Dokument)
            .where(Dokument.id == dokument.id, Dokument.status.in_(allowed_from))
            .values(status=status, **values)
            .execution_options(synchronize_session=False)
        )
        changed = bool(result.rowcount)
        # In the same transaction as the change: whoever makes it also owes its notice.
        staged = await notify(session) if changed and notify is not None else []
        await session.commit()
    if changed:
        await announce(
            services,
            dokument.akte_id,
            events.DOKUMENT_STATUS,
            {"dokumentId": dokument.id, "status": status.value},
        )
        await services.notifications.announce(staged)
    return changed


async def mark_in_progress(services: Services, dokument: Dokument) -> bool:
    """The worker starts on it (again); a finished Dokument stays as it is."""
    return await _transition(
        services, dokument, DokumentStatus.IN_BEARBEITUNG, allowed_from=UNFINISHED, error=None
    )


async def mark_completed(
    services: Services, dokument: Dokument, extracted: ExtractedPdf, notify: Notice | None = None
) -> bool:
    """Store the result (and `notify`'s notifications); True only for the call that completed it."""
    return await _transition(
        services,
        dokument,
        DokumentStatus.ABGESCHLOSSEN,
        allowed_from=UNFINISHED,
        notify=notify,
        page_count=extracted.page_count,
        extracted_text=extracted.text,
        error=None,
    )


async def mark_failed(
    services: Services, dokument: Dokument, error: str, notify: Notice | None = None
) -> bool:
    """Record the final failure (full error, for admins) and `notify`'s notifications;
    True only for the first call."""
    return await _transition(
        services,
        dokument,
        DokumentStatus.FEHLGESCHLAGEN,
        allowed_from=UNFINISHED,
        notify=notify,
        error=error,
    )


async def mark_pending(services: Services, dokument: Dokument) -> bool:
    """A failed Dokument goes back to waiting for a retry."""
    return await _transition(
        services,
        dokument,
        DokumentStatus.AUSSTEHEND,
        allowed_from=(DokumentStatus.FEHLGESCHLAGEN,),
        error=None,
    )
