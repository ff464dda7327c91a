"""Test fixtures: a test-owned Redis, a fresh PostgreSQL database, the real app and worker.

Everything runs against real services. Settings are fixed here before any app code reads
them; each test starts from empty tables and an empty Redis.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from tests.support.factories import Factory
from tests.support.http import logged_in
from tests.support.jobs import FAST_JOB_SETTINGS, isolated, job_services, worker_env
from tests.support.personas import People, build_admin, build_operator, build_people
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http
from tests.support.realtime import SocketClient
from tests.support.runtime_settings import restore_defaults

from ailawyer.config import Environment, Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Base, User
from ailawyer.embedded_redis import RedisServer
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ailawyer")


@pytest.fixture(scope="session")
def redis_server(tmp_root: Path) -> Iterator[RedisServer]:
    """A Redis owned by the test run (never the developer's or the machine's 6379)."""
    server = RedisServer(data_dir=tmp_root / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, for tests that restart, stop or reconfigure it."""
    server = RedisServer(data_dir=tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def _postgres_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        raise RuntimeError(
            f"PostgreSQL is required for the tests ({POSTGRES_ADMIN_URL}): {error}. "
            "Set TEST_POSTGRES_URL to an admin connection."
        ) from error


async def create_postgres_database(name: str) -> str:
    """Create an empty database `name`; returns its SQLAlchemy URL."""
    admin = await _postgres_admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def drop_postgres_database(name: str) -> None:
    admin = await _postgres_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this run, migrated with Alembic (not create_all)."""
    name = f"ailawyer_test_{uuid.uuid4().hex[:10]}"
    url = await create_postgres_database(name)
    # Alembic runs its own event loop, so it must not run on the test loop's thread.
    await asyncio.to_thread(upgrade, url)
    yield url
    await drop_postgres_database(name)


@pytest.fixture(scope="session")
def settings(tmp_root: Path, database_url: str, redis_server: RedisServer) -> Settings:
    return Settings(
        _env_file=None,
        environment=Environment.TEST,
        database_url=database_url,
        redis_url=redis_server.url,
        secret_key=TEST_SECRET_KEY,
        data_dir=tmp_root / "data",
        log_dir=tmp_root / "log",
        log_level="DEBUG",
        worker_heartbeat_seconds=1.0,
        **FAST_JOB_SETTINGS,
    )


def process_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """Environment for an `ailawyer` subprocess configured like `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.isupper() or key in {"PATH", "HOME", "LANG", "TZ", "VIRTUAL_ENV"}
    }
    env.update(
        ENVIRONMENT=settings.environment.value,
        DATABASE_URL=settings.effective_database_url,
        REDIS_URL=settings.redis_url or "",
        SECRET_KEY=settings.secret_key,
        DATA_DIR=str(settings.data_dir),
        LOG_DIR=str(settings.effective_log_dir),
        LOG_LEVEL=settings.log_level,
        WORKER_HEARTBEAT_SECONDS=str(settings.worker_heartbeat_seconds),
        HOST="127.0.0.1",
        **worker_env(settings),
    )
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
async def services(settings: Settings) -> AsyncIterator[Services]:
    services = Services.create(settings)
    yield services
    await services.close()


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty tables and Redis before each test that touches them."""
    if "services" in request.fixturenames:
        services: Services = request.getfixturevalue("services")
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        async with services.db.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await services.redis.flushdb()
    yield


@pytest.fixture
async def defaults_restored(services: Services) -> AsyncIterator[None]:
    """For a test that changes runtime settings: every process is back on the defaults after."""
    yield
    await restore_defaults(services)


@pytest.fixture
def factory(services: Services) -> Factory:
    return Factory(services.db)


@pytest.fixture
async def people(factory: Factory, services: Services) -> People:
    """The operator and Kanzleien A and B with their staff (tests.support.personas)."""
    return await build_people(factory, services)


@pytest.fixture
async def admin(factory: Factory) -> User:
    """An ADMIN of a Kanzlei of its own."""
    return await build_admin(factory)


@pytest.fixture
async def operator(factory: Factory) -> User:
    """The installation's operator (an ADMIN of a Kanzlei of its own with the operator flag)."""
    return await build_operator(factory)


@pytest.fixture(scope="session")
def live_server(settings: Settings, tmp_root: Path) -> Iterator[str]:
    """`ailawyer serve` as a real process; returns its base URL."""
    port = free_port()
    process = AilawyerProcess(
        ["serve", "--port", str(port)], process_env(settings), tmp_root / "serve.out"
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base_url}/api/health", process=process)
    yield base_url
    assert process.stop() == 0, process.output()[-4000:]


@pytest.fixture(scope="session")
def worker_process(settings: Settings, tmp_root: Path) -> Iterator[AilawyerProcess]:
    """`ailawyer worker` as a real process for the whole run."""
    process = AilawyerProcess(["worker"], process_env(settings), tmp_root / "worker.out")
    yield process
    assert process.stop() == 0, process.output()[-4000:]


@pytest.fixture
async def client(live_server: str, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the live server; cookies persist like a browser's."""
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        yield http


@pytest.fixture
async def admin_client(live_server: str, admin: User) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the live server with `admin`'s session."""
    async with logged_in(live_server, admin) as client:
        yield client


@pytest.fixture
async def operator_client(live_server: str, operator: User) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the live server with the operator's session."""
    async with logged_in(live_server, operator) as client:
        yield client


@pytest.fixture
def sync_redis(redis_server: RedisServer) -> Iterator[object]:
    redis = create_redis(redis_server.url)
    yield redis


@pytest.fixture
async def isolated_services(settings: Settings, services: Services) -> AsyncIterator[Services]:
    """Services on a Redis key prefix of their own (jobs no other worker of the run sees).

    Depends on `services` so that `clean_state` empties the database and Redis first.
    """
    async with job_services(isolated(settings)) as own:
        yield own


@pytest.fixture
async def sockets() -> AsyncIterator[Callable[[], SocketClient]]:
    """Make Socket.IO test clients (tests.support.realtime); all are closed afterwards."""
    made: list[SocketClient] = []

    def make() -> SocketClient:
        made.append(SocketClient())
        return made[-1]

    yield make
    for socket in made:
        await socket.close()
