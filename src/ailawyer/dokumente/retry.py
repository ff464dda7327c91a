"""A manual retry of a Dokument's processing: the Dokument waits again (AUSSTEHEND), and a
job removed by retention is rebuilt from the Dokument, which holds everything it needs.

Bound to the `dokumente` queue by `ailawyer.jobs.retry`, which the retry API and the
explorer's retry actions share; the app runs it, so it lives with the Dokumente, not with
the worker.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, Dokument, is_id
from ailawyer.dokumente import status
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.realtime.emitter import Emitter


async def dokument_waits_again(
    session: AsyncSession, emitter: Emitter, payload: DokumentPayload
) -> bool:
    """Mark the job's failed Dokument pending in the caller's transaction (its event is
    staged); False if there is no failed Dokument to process again."""
    dokument = await session.get(Dokument, payload.dokument_id)
    return dokument is not None and await status.mark_pending(session, emitter, dokument)


async def dokument_payload(session: AsyncSession, job_id: str) -> DokumentPayload | None:
    """The payload of the Dokument job `job_id`, from the Dokument; None if none has it."""
    number = job_id.removeprefix("dokument-")
    if not number.isascii() or not number.isdigit() or not is_id(int(number)):
        return None
    row = (
        await session.execute(
            select(Dokument, Akte.kanzlei_id)
            .join(Akte, Akte.id == Dokument.akte_id)
            .where(Dokument.id == int(number))
        )
    ).first()
    if row is None:
        return None
    dokument, kanzlei_id = row
    # Rows from before job ids were stored with the Dokument have none.
    if (dokument.job_id or dokument_job_id(dokument.id)) != job_id:
        return None
    return DokumentPayload(
        dokument_id=dokument.id,
        akte_id=dokument.akte_id,
        user_id=dokument.uploaded_by_id,
        kanzlei_id=kanzlei_id,
    )
