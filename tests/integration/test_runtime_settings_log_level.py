"""The log level is a runtime setting: a running worker subprocess follows a save on the
admin page within a second, and a worker started later uses the saved level, not its own."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import csrf_token, login
from tests.support.jobs import wait_until
from tests.support.personas import build_operator
from tests.support.processes import AilawyerProcess
from tests.support.runtime_settings import wait_until_applied
from tests.support.worker_processes import stop_all

from ailawyer.config import Settings
from ailawyer.runtime_settings.definitions import LOG_LEVEL, MAINTENANCE_BANNER
from ailawyer.services import Services

pytestmark = pytest.mark.usefixtures("defaults_restored")


def log_lines(settings: Settings, pid: int) -> list[dict[str, object]]:
    """The JSON lines the process `pid` wrote to its own log file so far."""
    path = settings.effective_log_dir / f"worker-{socket.gethostname()}-{pid}.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def debug_lines(settings: Settings, pid: int, since: int) -> list[dict[str, object]]:
    return [line for line in log_lines(settings, pid)[since:] if line["level"] == "debug"]


@asynccontextmanager
async def admin(live_server: str, factory: Factory) -> AsyncIterator[httpx.AsyncClient]:
    user = await build_operator(factory)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, user.email)
        client.headers["x-csrftoken"] = await csrf_token(client, "/admin/settings")
        client.headers["hx-request"] = "true"
        yield client


async def save(client: httpx.AsyncClient, **values: str) -> None:
    response = await client.post("/admin/settings", data=values)
    assert response.status_code == 200, response.text


async def heartbeat(services: Services, pid: int) -> bool:
    return any(record["pid"] == pid for record in await services.workers.alive())


def start_worker(settings: Settings, tmp_path: Path, name: str, **env: str) -> AilawyerProcess:
    return AilawyerProcess(["worker"], process_env(settings, **env), tmp_path / f"{name}.out")


async def test_a_running_worker_logs_debug_lines_within_a_second_after_the_change(
    live_server: str, factory: Factory, services: Services, settings: Settings, tmp_path: Path
) -> None:
    worker = start_worker(settings, tmp_path, "worker")
    try:
        async with admin(live_server, factory) as client:
            await wait_until(lambda: heartbeat(services, worker.pid), within=30, what="a beat")
            await save(client, **{LOG_LEVEL: "WARNING"})
            await wait_until_applied(services, {worker.pid})
            since = len(log_lines(settings, worker.pid))
            # Another change makes the worker act (and acknowledge at DEBUG) once more.
            await save(client, **{MAINTENANCE_BANNER: "Wartung"})
            await wait_until_applied(services, {worker.pid})
            assert debug_lines(settings, worker.pid, since) == []

            saved_at = time.time()
            await save(client, **{LOG_LEVEL: "DEBUG"})

            async def debug_logged() -> list[dict[str, object]]:
                return debug_lines(settings, worker.pid, since)

            lines = await wait_until(debug_logged, within=1.0, what="a DEBUG line")
    finally:
        stop_all(worker)
    first = lines[0]
    assert first["process"] == "worker" and first["pid"] == worker.pid
    assert str(first["timestamp"]) >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(saved_at))
    assert worker.process.returncode == 0


async def test_a_worker_started_after_the_change_uses_the_saved_level_not_its_own(
    live_server: str, factory: Factory, services: Services, settings: Settings, tmp_path: Path
) -> None:
    async with admin(live_server, factory) as client:
        await save(client, **{LOG_LEVEL: "INFO"})
    # Its environment says WARNING; the saved INFO applies from its start on.
    worker = start_worker(settings, tmp_path, "later", LOG_LEVEL="WARNING")
    try:
        await wait_until_applied(services, {worker.pid}, within=30)

        async def started_logged() -> bool:
            messages = {line["message"] for line in log_lines(settings, worker.pid)}
            return "worker started" in messages  # an INFO line

        await wait_until(started_logged, within=5, what="the INFO line of the start")
        assert debug_lines(settings, worker.pid, 0) == []
    finally:
        stop_all(worker)
    assert worker.process.returncode == 0
