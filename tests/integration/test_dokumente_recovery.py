"""A Dokument whose job is gone is enqueued again and processed, once.

Found by the chaos suite: an app process killed between committing an uploaded Dokument
and enqueueing its job left the Dokument "ausstehend" for ever. The upload now stores
the job id with the row, and the scheduled recovery enqueues missing jobs under it.
"""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import update
from tests.support.dokumente import PROCESSING_WITHIN, notifications_of, wait_for_status
from tests.support.factories import Factory
from tests.support.jobs import running_pool
from tests.support.pdfs import numbered_pdf

from ailawyer.db.models import Dokument, DokumentStatus, utcnow
from ailawyer.dokumente.recovery import GRACE_SECONDS, requeue_orphaned_dokumente
from ailawyer.dokumente.upload import IncomingFile, accept_uploads
from ailawyer.domain.roles import Role
from ailawyer.services import Services


async def _uploaded(services: Services, factory: Factory) -> tuple[Dokument, int]:
    anwalt = await factory.user(Role.ANWALT)
    akte = await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)
    [dokument] = await accept_uploads(
        services,
        akte_id=akte.id,
        user_id=anwalt.id,
        uploads=[IncomingFile("a.pdf", io.BytesIO(numbered_pdf(2)))],
    )
    return dokument, anwalt.id


async def _age(services: Services, dokument: Dokument) -> None:
    async with services.db.session() as session:
        await session.execute(
            update(Dokument)
            .where(Dokument.id == dokument.id)
            .values(updated_at=utcnow() - timedelta(seconds=GRACE_SECONDS + 1))
        )
        await session.commit()


async def test_a_dokument_whose_job_is_gone_is_processed_after_all(
    isolated_services: Services, factory: Factory
) -> None:
    dokument, user_id = await _uploaded(isolated_services, factory)
    # What a kill between commit and enqueue (or a Redis that lost the write) leaves.
    await isolated_services.jobs.queue("dokumente").remove(dokument.job_id or "")
    await _age(isolated_services, dokument)

    assert await requeue_orphaned_dokumente(isolated_services) == [dokument.id]
    assert await requeue_orphaned_dokumente(isolated_services) == [], "its job exists again"
    async with running_pool(isolated_services):
        await wait_for_status(
            isolated_services, dokument.id, DokumentStatus.ABGESCHLOSSEN, within=PROCESSING_WITHIN
        )
    assert [n.type for n in await notifications_of(isolated_services, user_id)] == ["job.completed"]


async def test_a_waiting_dokument_with_its_job_or_a_fresh_one_is_left_alone(
    isolated_services: Services, factory: Factory
) -> None:
    with_job, _ = await _uploaded(isolated_services, factory)
    await _age(isolated_services, with_job)
    just_uploaded, _ = await _uploaded(isolated_services, factory)
    # Its upload may still be enqueueing: too young to count as orphaned.
    await isolated_services.jobs.queue("dokumente").remove(just_uploaded.job_id or "")

    assert await requeue_orphaned_dokumente(isolated_services) == []
