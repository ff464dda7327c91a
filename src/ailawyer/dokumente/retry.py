"""Before a failed Dokument job is retried, the Dokument waits again (AUSSTEHEND).

Bound to the `dokumente` queue by `ailawyer.jobs.retry`, which the retry API and the
explorer's retry actions share; the app runs it, so it lives with the Dokumente, not with
the worker.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Dokument
from ailawyer.dokumente import status
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.realtime.emitter import Emitter


async def dokument_waits_again(
    session: AsyncSession, emitter: Emitter, payload: DokumentPayload
) -> None:
    """Mark the job's Dokument pending in the caller's transaction (its event is staged)."""
    dokument = await session.get(Dokument, payload.dokument_id)
    if dokument is not None:
        await status.mark_pending(session, emitter, dokument)
