"""A Dokument's final status and the notification it owes commit together, or not at all.

Found by the chaos suite: the status was committed first and the notification in a
transaction of its own. A PostgreSQL restart (or a killed worker) in between left the
Dokument "abgeschlossen" without its "Dokument verarbeitet", and the retried job,
finding the Dokument done, told nobody.
"""

from __future__ import annotations

import pytest
from tests.support.dokumente import notifications_of
from tests.support.factories import Factory

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente import status
from ailawyer.dokumente.pdf import ExtractedPdf
from ailawyer.domain.roles import Role
from ailawyer.realtime import outbox
from ailawyer.services import Services

EXTRACTED = ExtractedPdf(page_count=1, text="Seite 1")


class DatabaseGone(Exception):
    """Stands for the connection dropping in the middle of the transaction."""


async def _dokument(services: Services, factory: Factory) -> tuple[Dokument, int]:
    anwalt = await factory.user(Role.ANWALT)
    akte = await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)
    async with services.db.session() as session:
        dokument = Dokument(
            akte_id=akte.id,
            dateiname="schriftsatz.pdf",
            storage_key=f"{akte.id}/x.pdf",
            size_bytes=10,
            sha256="0" * 64,
            status=DokumentStatus.IN_BEARBEITUNG,
            uploaded_by_id=anwalt.id,
        )
        session.add(dokument)
        await session.commit()
    return dokument, anwalt.id


async def _complete_and_notify(services: Services, dokument: Dokument, user_id: int) -> bool:
    """What the processor does: the change and the notice it owes, in one transaction."""
    async with services.db.session() as session:
        completed = await status.mark_completed(session, services.emitter, dokument, EXTRACTED)
        if completed:
            await services.notifications.stage_user(
                session, user_id, type="job.completed", title="Dokument verarbeitet"
            )
        await outbox.commit(session)
    return completed


async def test_a_failed_notice_leaves_the_dokument_unfinished(
    services: Services, factory: Factory
) -> None:
    dokument, user_id = await _dokument(services, factory)
    with pytest.raises(DatabaseGone):
        async with services.db.session() as session:
            await status.mark_completed(session, services.emitter, dokument, EXTRACTED)
            await services.notifications.stage_user(
                session, user_id, type="job.completed", title="Dokument verarbeitet"
            )
            raise DatabaseGone
    async with services.db.session() as session:
        stored = await session.get(Dokument, dokument.id)
    assert stored is not None and stored.status is DokumentStatus.IN_BEARBEITUNG
    assert await notifications_of(services, user_id) == []


async def test_the_run_that_completes_the_dokument_creates_its_notice_once(
    services: Services, factory: Factory
) -> None:
    dokument, user_id = await _dokument(services, factory)
    first = await _complete_and_notify(services, dokument, user_id)
    # A second run of the same job (after a stall) changes nothing and tells nobody.
    second = await _complete_and_notify(services, dokument, user_id)
    assert (first, second) == (True, False)
    assert [n.title for n in await notifications_of(services, user_id)] == ["Dokument verarbeitet"]
