"""A job's final failure is recorded, and the administrators told, exactly once.

Found by the chaos suite:
- a job that failed for good during a PostgreSQL restart gave up its bookkeeping at the
  first error: its Dokument stayed "in Bearbeitung" and nobody heard of it. Each try is
  now repeated for about a minute;
- a worker killed between marking the Dokument failed and telling the administrators:
  the repeated run found the failure recorded and told nobody. The record and every
  notification now commit in one transaction.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from tests.support.dokumente import notifications_of
from tests.support.factories import Factory
from tests.support.pdfs import corrupt_pdf
from tests.support.personas import build_admin, build_operator

from ailawyer.db.models import Dokument, DokumentStatus, Notification
from ailawyer.dokumente.upload import IncomingFile, accept_uploads
from ailawyer.domain.roles import Role
from ailawyer.jobs.catalog import ADMIN_TEST, DOKUMENTE, SYSTEM
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import AdminTestPayload, DokumentPayload, SystemTaskPayload
from ailawyer.notifications.types import JOB_FAILED, JOB_FAILED_ADMIN
from ailawyer.services import Services
from ailawyer.worker import failures
from ailawyer.worker.bindings import BINDINGS


class DatabaseRestarting(ConnectionRefusedError):
    """What asyncpg raises while PostgreSQL is down."""


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failures, "RECORD_RETRY_DELAYS_SECONDS", (0.01,) * 4)


async def _of_type(services: Services, kind: str) -> list[Notification]:
    async with services.db.session() as session:
        return list(
            (await session.scalars(select(Notification).where(Notification.type == kind))).all()
        )


async def test_a_test_job_tells_the_operator_once_after_the_database_came_back(
    isolated_services: Services, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await build_operator(factory)
    payload = AdminTestPayload(user_id=admin.id, failure="always")
    job = await isolated_services.jobs.enqueue("test", payload)
    ctx = JobContext(job=job, queue="test", services=isolated_services)
    real_stage_user = isolated_services.notifications.stage_user
    tries: list[int] = []

    async def stage_user_while_restarting(*args: object, **kwargs: object) -> object:
        tries.append(1)
        if len(tries) < 3:
            raise DatabaseRestarting("connection refused")
        return await real_stage_user(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(isolated_services.notifications, "stage_user", stage_user_while_restarting)
    await failures.handle_final_failure(BINDINGS[ADMIN_TEST.name], ctx, payload, "Boom")
    # The same final failure again (the run repeated after its worker died): nobody is told twice.
    await failures.handle_final_failure(BINDINGS[ADMIN_TEST.name], ctx, payload, "Boom")

    assert len(tries) == 3
    assert [n.user_id for n in await _of_type(isolated_services, JOB_FAILED_ADMIN.key)] == [
        admin.id
    ]


async def test_a_job_of_the_installation_tells_the_operators_and_no_kanzleis_admin(
    isolated_services: Services, factory: Factory
) -> None:
    operator = await build_operator(factory)
    kanzlei_admin = await build_admin(factory)
    payload = SystemTaskPayload(task="retention-cleanup")
    job = await isolated_services.jobs.enqueue("system", payload)
    ctx = JobContext(job=job, queue="system", services=isolated_services)

    await failures.handle_final_failure(BINDINGS[SYSTEM.name], ctx, payload, "RedisError")

    told = [n.user_id for n in await _of_type(isolated_services, JOB_FAILED_ADMIN.key)]
    assert told == [operator.id]
    assert kanzlei_admin.id not in told


async def test_a_failed_dokument_and_every_notice_are_recorded_together(
    isolated_services: Services, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    kanzlei = await factory.kanzlei()
    anwalt = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    akte = await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)
    [dokument] = await accept_uploads(
        isolated_services,
        akte_id=akte.id,
        user_id=anwalt.id,
        uploads=[IncomingFile("kaputt.pdf", io.BytesIO(corrupt_pdf()))],
    )
    job = await isolated_services.jobs.get_job("dokumente", dokument.job_id or "")
    assert job is not None
    ctx = JobContext(job=job, queue="dokumente", services=isolated_services)
    payload = DokumentPayload.model_validate(job.data)

    async def admins_unreachable(*args: object, **kwargs: object) -> object:
        raise DatabaseRestarting("connection refused")

    # The Dokument's record (and the uploader's notice) commits with the administrators'
    # notice or not at all: every try fails at the latter, so nothing is recorded.
    with monkeypatch.context() as patched:
        patched.setattr(isolated_services.notifications, "stage_role", admins_unreachable)
        await failures.handle_final_failure(
            BINDINGS[DOKUMENTE.name], ctx, payload, "PdfStreamError"
        )
    assert await _status(isolated_services, dokument.id) is DokumentStatus.AUSSTEHEND
    assert await notifications_of(isolated_services, anwalt.id) == []

    await failures.handle_final_failure(BINDINGS[DOKUMENTE.name], ctx, payload, "PdfStreamError")
    await failures.handle_final_failure(BINDINGS[DOKUMENTE.name], ctx, payload, "PdfStreamError")

    assert await _status(isolated_services, dokument.id) is DokumentStatus.FEHLGESCHLAGEN
    assert [n.type for n in await notifications_of(isolated_services, anwalt.id)] == [
        JOB_FAILED.key
    ]
    assert [n.type for n in await notifications_of(isolated_services, admin.id)] == [
        JOB_FAILED_ADMIN.key
    ]


async def _status(services: Services, dokument_id: int) -> DokumentStatus | None:
    async with services.db.session() as session:
        dokument = await session.get(Dokument, dokument_id)
    return None if dokument is None else dokument.status
