"""The system a load benchmark measures: Redis, a fresh PostgreSQL database, app and workers.

`bench_system` starts an embedded Redis and a fresh, migrated database
(BENCH_POSTGRES_URL, default the local server as the tests use it) in a temporary folder;
`BenchSystem.start`/`serve` add `ailawyer` processes configured like its settings. On
leaving, every process is stopped and the database and folder are removed.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from tests.conftest import process_env
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.config import Environment, Settings
from ailawyer.db.migrate import upgrade
from ailawyer.embedded_redis import RedisServer
from ailawyer.services import Services

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def create_database() -> tuple[str, str]:
    """A fresh PostgreSQL database; returns (name, SQLAlchemy URL)."""
    name = f"ailawyer_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return name, f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class BenchSystem:
    """The running parts; `services` talks to the same Redis and database as the processes."""

    work: Path
    settings: Settings
    services: Services
    processes: list[AilawyerProcess] = field(default_factory=list)

    def start(self, args: list[str], name: str, **env: str) -> AilawyerProcess:
        """An `ailawyer` process (output in `<work>/<name>.out`), stopped on leaving.

        `env`: variables on top of the settings', e.g. a limit a benchmark lifts.
        """
        process = AilawyerProcess(
            args, process_env(self.settings, **env), self.work / f"{name}.out"
        )
        self.processes.append(process)
        return process

    def serve(self, **env: str) -> tuple[AilawyerProcess, int]:
        """`ailawyer serve` on a free port, once it answers; returns it and the port."""
        port = free_port()
        app = self.start(["serve", "--port", str(port)], f"serve-{port}", **env)
        wait_for_http(f"http://127.0.0.1:{port}/api/health", process=app)
        return app, port


@asynccontextmanager
async def bench_system(prefix: str) -> AsyncIterator[BenchSystem]:
    """Redis and a migrated database in a temporary folder named `prefix…`; see the module."""
    with tempfile.TemporaryDirectory(prefix=prefix) as root:
        work = Path(root)
        redis = RedisServer(data_dir=work / "redis")
        redis.start()
        db_name, database_url = await create_database()
        system: BenchSystem | None = None
        try:
            await asyncio.to_thread(upgrade, database_url)
            settings = Settings(
                _env_file=None,
                environment=Environment.TEST,
                database_url=database_url,
                redis_url=redis.url,
                secret_key=secrets.token_hex(32),
                data_dir=work,
            )
            system = BenchSystem(work, settings, Services.create(settings))
            yield system
        finally:
            if system is not None:
                for process in reversed(system.processes):
                    process.stop()
                await system.services.close()
            redis.stop()
            await drop_database(db_name)
