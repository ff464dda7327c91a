"""A job's final failure is recorded even when the database is away for a moment.

Found by the chaos suite: a job that failed for good during a PostgreSQL restart gave
up its bookkeeping at the first error. Its Dokument stayed "in Bearbeitung" for ever and
neither the uploader nor the administrators heard of it. Now each step is tried again
for about a minute, and a step that succeeded is not repeated.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from tests.support.factories import Factory

from ailawyer.db.models import Notification
from ailawyer.domain.roles import Role
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.jobs.registry import ADMIN_TEST
from ailawyer.notifications.types import JOB_FAILED_ADMIN
from ailawyer.services import Services
from ailawyer.worker import failures


class DatabaseRestarting(ConnectionRefusedError):
    """What asyncpg raises while PostgreSQL is down."""


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failures, "RECORD_RETRY_DELAYS_SECONDS", (0.01,) * 4)


async def _admin_notices(services: Services) -> list[Notification]:
    async with services.db.session() as session:
        rows = await session.scalars(
            select(Notification).where(Notification.type == JOB_FAILED_ADMIN.key)
        )
        return list(rows.all())


async def _context(services: Services, factory: Factory) -> tuple[JobContext, AdminTestPayload]:
    admin = await factory.user(Role.ADMIN)
    payload = AdminTestPayload(user_id=admin.id, failure="always")
    job = await services.jobs.enqueue("test", payload)
    return JobContext(job=job, queue="test", services=services), payload


async def test_a_hook_that_fails_while_the_database_restarts_runs_again(
    isolated_services: Services, factory: Factory
) -> None:
    ctx, payload = await _context(isolated_services, factory)
    calls: list[str] = []

    async def hook(_ctx: JobContext, _payload: AdminTestPayload, error: str) -> bool:
        calls.append(error)
        if len(calls) < 3:
            raise DatabaseRestarting("connection refused")
        return True

    definition = dataclasses.replace(ADMIN_TEST, on_final_failure=hook)
    await failures.handle_final_failure(definition, ctx, payload, "Boom", "Traceback …")

    assert calls == ["Boom"] * 3
    assert len(await _admin_notices(isolated_services)) == 1


async def test_a_recorded_failure_is_not_recorded_twice_when_telling_the_admins_fails(
    isolated_services: Services, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, payload = await _context(isolated_services, factory)
    hook_calls: list[str] = []

    async def hook(_ctx: JobContext, _payload: AdminTestPayload, error: str) -> bool:
        hook_calls.append(error)
        return True

    real_notify_admins = isolated_services.notifications.notify_admins
    attempts: list[int] = []

    async def notify_admins_after_a_restart(*args: object, **kwargs: object) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise DatabaseRestarting("connection refused")
        return await real_notify_admins(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(
        isolated_services.notifications, "notify_admins", notify_admins_after_a_restart
    )
    definition = dataclasses.replace(ADMIN_TEST, on_final_failure=hook)
    await failures.handle_final_failure(definition, ctx, payload, "Boom", "Traceback …")

    assert hook_calls == ["Boom"], "the hook's claim is made once"
    assert len(attempts) == 2
    assert len(await _admin_notices(isolated_services)) == 1
