"""Dokumente whose job is gone: enqueued again, under the job id stored with them.

An upload commits the Dokument (with its job id) before it enqueues the job, and the job
lives only in Redis. A Dokument waits for a job that does not exist, and nothing would
ever process it, after:
- an app process killed between the commit and the enqueue;
- a Redis that came back without its last writes: with AOF `appendfsync everysec` a crash
  of its host loses up to the last second (a killed redis-server loses nothing: the
  kernel already holds what it acknowledged), a restore from an older backup more;
- a Redis that came back empty (a lost volume, a failover to an empty replica).

A scheduled task finds those every DOKUMENTE_RECOVERY_SECONDS, and every worker runs it
at once when Redis comes back (`ailawyer.worker.maintenance`). Enqueueing is idempotent
by job id, so a race with an upload that is still enqueueing, or with another worker
running the same task, adds no second job; a Dokument processed twice (its old job
restored too) is completed, and its uploader told, once (`ailawyer.dokumente.status`).
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

    `grace_seconds=0`: every unfinished Dokument, also one changed a moment ago. Right after
    a restore, where no upload can be under way, and right after Redis came back, where
    every job it lost should run again at once, those of attempts still running included
    (one that fails meanwhile notes the Dokument as waiting for a retry whose job is gone):
    an upload still enqueueing then finds its job there already (the same id), one that
    failed to enqueue takes its Dokument back, and the job skips a Dokument that is gone.
    """
    query = (
        select(Dokument, Akte.kanzlei_id)
        .join(Akte, Akte.id == Dokument.akte_id)
        .where(Dokument.status.in_(UNFINISHED))
        .order_by(Dokument.id)
        .limit(BATCH)
    )
    if grace_seconds > 0:
        query = query.where(Dokument.updated_at < utcnow() - timedelta(seconds=grace_seconds))
    async with services.db.session() as session:
        unfinished = (await session.execute(query)).all()
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
