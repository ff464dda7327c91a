"""One Alembic history that runs up, down and up again on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect
from tests.conftest import create_postgres_database, drop_postgres_database

from ailawyer.db.migrate import downgrade, upgrade
from ailawyer.db.models import Base
from ailawyer.db.session import create_engine


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def _round_trip(url: str) -> tuple[set[str], set[str]]:
    upgrade(url)
    after_upgrade = asyncio.run(_tables(url))
    downgrade(url, "base")
    after_downgrade = asyncio.run(_tables(url))
    upgrade(url)
    return after_upgrade, after_downgrade


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ailawyer.sqlite3'}"
        return
    name = f"ailawyer_migrations_{uuid.uuid4().hex[:8]}"
    url = await create_postgres_database(name)
    yield url
    await drop_postgres_database(name)


async def test_migrations_create_every_model_table_and_revert_cleanly(
    empty_database: str,
) -> None:
    after_upgrade, after_downgrade = await asyncio.to_thread(_round_trip, empty_database)

    model_tables = set(Base.metadata.tables)
    assert model_tables <= after_upgrade
    assert after_downgrade <= {"alembic_version"}
    assert model_tables <= await _tables(empty_database)


async def test_the_models_match_the_migrations(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()

    assert diff == [], "models changed without a migration: run `ailawyer db revision -m ...`"
