"""Per-user sequence numbers stay unique, gapless and in commit order under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.support.factories import Factory
from tests.support.notifications import notify, notify_role

from ailawyer.config import Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Notification
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.notifications.service import NotificationService
from ailawyer.realtime.emitter import Emitter
from ailawyer.services import Services

CONCURRENT = 60


@pytest.fixture(params=["postgresql", "sqlite"])
async def database(
    request: pytest.FixtureRequest, services: Services, tmp_path: Path
) -> AsyncIterator[Database]:
    """The run's PostgreSQL database, or a fresh migrated SQLite file (the embedded default)."""
    if request.param == "postgresql":
        yield services.db
        return
    url = f"sqlite+aiosqlite:///{tmp_path / 'ailawyer.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    database = Database(url)
    yield database
    await database.dispose()


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[NotificationService]:
    # A prefix nobody listens on: these events are not the point here.
    emitter = Emitter.write_only(settings.redis_url or "", f"seq-test-{uuid.uuid4().hex[:8]}")
    yield NotificationService(emitter)
    await emitter.close()


async def seqs_in_insert_order(database: Database, user_id: int) -> list[int]:
    async with database.session() as db:
        rows = await db.scalars(
            select(Notification.seq)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
        return list(rows)


async def test_concurrent_notifications_for_one_user_get_unique_increasing_seqs(
    database: Database, service: NotificationService
) -> None:
    factory = Factory(database)
    user = await factory.user(Role.ANWALT)

    created = await asyncio.gather(
        *(
            notify(database, service, user.id, type="info", title=f"Nr. {n}")
            for n in range(CONCURRENT)
        )
    )

    assert sorted(n.seq for n in created) == list(range(1, CONCURRENT + 1))
    # Rows were inserted in seq order: a seq is only handed out after the previous commit.
    assert await seqs_in_insert_order(database, user.id) == list(range(1, CONCURRENT + 1))


async def test_role_and_single_notifications_at_once_keep_each_users_seqs_unique(
    database: Database, service: NotificationService
) -> None:
    factory = Factory(database)
    kanzlei = await factory.kanzlei()
    admins = [await factory.user(Role.ADMIN, kanzlei=kanzlei) for _ in range(3)]

    await asyncio.gather(
        *(
            notify_role(
                database, service, kanzlei.id, Role.ADMIN, type="system.alert", title="Alle"
            )
            for _ in range(10)
        ),
        *(
            notify(database, service, admins[0].id, type="info", title="Nur eine")
            for _ in range(10)
        ),
    )

    assert await seqs_in_insert_order(database, admins[0].id) == list(range(1, 21))
    for admin in admins[1:]:
        assert await seqs_in_insert_order(database, admin.id) == list(range(1, 11))
