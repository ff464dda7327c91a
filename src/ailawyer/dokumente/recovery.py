"""Dokumente whose job is gone: enqueued again, under the job id stored with them.

An upload commits the Dokument (with its job id) before it enqueues the job. An app
process killed in between, or a Redis that lost the last second of writes (AOF
`everysec`, then SIGKILL), leaves a Dokument waiting for a job that does not exist;
nothing would ever process it. A scheduled maintenance task finds those and enqueues
them again. Enqueueing is idempotent by job id, so a race with an upload that is still
enqueueing, or with another worker running the same task, adds no second job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from ailawyer.db.models import Akte, Dokument, utcnow
from ailawyer.dokumente.status import UNFINISHED
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.jobs.catalog import DOKUMENTE
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger(__name__)

# Only Dokumente unchanged for this long: a live upload enqueues within milliseconds.
GRACE_SECONDS = 10
# Bounds one run; the next run continues.
BATCH = 500


async def requeue_orphaned_dokumente(
    services: Services, *, grace_seconds: float = GRACE_SECONDS
) -> list[int]:
    """Enqueue the job of every unfinished Dokument whose job is missing; their ids.

    `grace_seconds=0` where no upload can be under way (right after a restore).
    """
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    async with services.db.session() as session:
        unfinished = (
            await session.execute(
                select(Dokument, Akte.kanzlei_id)
                .join(Akte, Akte.id == Dokument.akte_id)
                .where(Dokument.status.in_(UNFINISHED), Dokument.updated_at < cutoff)
                .order_by(Dokument.id)
                .limit(BATCH)
            )
        ).all()
    requeued = []
    for dokument, kanzlei_id in unfinished:
        # Rows from before job ids were stored with the Dokument have none.
        job_id = dokument.job_id or dokument_job_id(dokument.id)
        if await services.jobs.get_job(DOKUMENTE.name, job_id) is not None:
            continue
        payload = DokumentPayload(
            dokument_id=dokument.id,
            akte_id=dokument.akte_id,
            user_id=dokument.uploaded_by_id,
            kanzlei_id=kanzlei_id,
        )
        await services.jobs.enqueue(DOKUMENTE.name, payload, job_id=job_id)
        requeued.append(dokument.id)
    if requeued:
        log.warning("dokumente without a job enqueued again", dokumente=requeued)
    return requeued
