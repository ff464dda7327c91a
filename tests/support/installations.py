"""Whole installations for the backup tests: a database of their own (a fresh PostgreSQL
database or a SQLite file), a data directory and a Redis key prefix; optionally with real
`ailawyer serve` and `ailawyer worker` processes."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.conftest import create_postgres_database, drop_postgres_database, process_env
from tests.support.jobs import isolated
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.config import Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Base
from ailawyer.db.session import Database

KINDS = ["postgresql", "sqlite"]


@asynccontextmanager
async def installation(
    kind: str, base: Settings, root: Path, *, migrated: bool = True
) -> AsyncIterator[Settings]:
    """Settings of a new, empty installation under `root` (like `base` otherwise); a
    PostgreSQL database is dropped again afterwards."""
    data_dir = root / "data"
    await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    name = None
    if kind == "postgresql":
        name = f"ailawyer_backup_{uuid.uuid4().hex[:10]}"
        url = await create_postgres_database(name)
    else:
        url = f"sqlite+aiosqlite:///{data_dir / 'ailawyer.sqlite3'}"
    settings = isolated(base, database_url=url, data_dir=data_dir, log_dir=root / "log")
    try:
        if migrated:
            # Alembic runs its own event loop, so not on the test's.
            await asyncio.to_thread(upgrade, url)
        yield settings
    finally:
        if name is not None:
            await drop_postgres_database(name)


@asynccontextmanager
async def app_and_worker(settings: Settings, root: Path) -> AsyncIterator[str]:
    """`ailawyer serve` and `ailawyer worker` of the installation; yields the app's URL.
    Both must stop cleanly (exit 0)."""
    port = free_port()
    env = process_env(settings)
    app = AilawyerProcess(["serve", "--port", str(port)], env, root / "serve.out")
    worker = AilawyerProcess(["worker"], env, root / "worker.out")
    base_url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for_http, f"{base_url}/api/health", process=app)
        yield base_url
    finally:
        codes = await asyncio.gather(asyncio.to_thread(app.stop), asyncio.to_thread(worker.stop))
    assert codes == [0, 0], (app.output()[-3000:], worker.output()[-3000:])


async def table_rows(db: Database) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every row of every table, by table name and primary key."""
    contents: dict[str, dict[Any, dict[str, Any]]] = {}
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings().all()
            key_columns = [column.name for column in table.primary_key.columns]
            contents[table.name] = {
                tuple(row[name] for name in key_columns): dict(row) for row in rows
            }
    return contents


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
