"""A Dokument's final status and the notification it owes commit together, or not at all.

Found by the chaos suite: the status was committed first and the notification in a
transaction of its own. A PostgreSQL restart (or a killed worker) in between left the
Dokument "abgeschlossen" without its "Dokument verarbeitet", and the retried job,
finding the Dokument done, told nobody.
"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from tests.support.dokumente import notifications_of
from tests.support.factories import Factory

from ailawyer.db.models import Dokument, DokumentStatus, Notification
from ailawyer.dokumente import status
from ailawyer.dokumente.pdf import ExtractedPdf
from ailawyer.domain.roles import Role
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


def _notice(services: Services, user_id: int, *, fail: bool) -> status.Notice:
    async def stage(session: AsyncSession) -> list[Notification]:
        row = await services.notifications.stage_user(
            session, user_id, type="job.completed", title="Dokument verarbeitet"
        )
        if fail:
            raise DatabaseGone
        return [row]

    return stage


async def test_a_failed_notice_leaves_the_dokument_unfinished(
    services: Services, factory: Factory
) -> None:
    dokument, user_id = await _dokument(services, factory)
    with pytest.raises(DatabaseGone):
        await status.mark_completed(
            services, dokument, EXTRACTED, notify=_notice(services, user_id, fail=True)
        )
    async with services.db.session() as session:
        stored = await session.get(Dokument, dokument.id)
    assert stored is not None and stored.status is DokumentStatus.IN_BEARBEITUNG
    assert await notifications_of(services, user_id) == []


async def test_the_run_that_completes_the_dokument_creates_its_notice_once(
    services: Services, factory: Factory
) -> None:
    dokument, user_id = await _dokument(services, factory)
    notice = _notice(services, user_id, fail=False)
    first = await status.mark_completed(services, dokument, EXTRACTED, notify=notice)
    # A second run of the same job (after a stall) changes nothing and tells nobody.
    second = await status.mark_completed(services, dokument, EXTRACTED, notify=notice)
    assert (first, second) == (True, False)
    assert [n.title for n in await notifications_of(services, user_id)] == ["Dokument verarbeitet"]
