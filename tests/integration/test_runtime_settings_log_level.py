"""The log level is a runtime setting: a running worker subprocess follows a save on the
admin page within a second, and a worker started later uses the saved level. LOG_LEVEL in
a process's environment pins that process's level over the saved one; /admin/settings
shows each process's level and where it comes from."""

from __future__ import annotations

import json
import re
import signal
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
    """A worker with LOG_LEVEL only if given in `env`: without, it follows the saved level."""
    environment = process_env(settings, **env)
    if "LOG_LEVEL" not in env:
        del environment["LOG_LEVEL"]
    return AilawyerProcess(["worker"], environment, tmp_path / f"{name}.out")


async def shown_level(client: httpx.AsyncClient, pid: int) -> tuple[str, str] | None:
    """The level and the cell's text as the processes card of /admin/settings shows `pid`."""
    card = await client.get("/admin/settings/processes")
    assert card.status_code == 200, card.text
    row = re.search(rf'<tr data-process="[^"]*:{pid}">(.*?)</tr>', card.text, re.DOTALL)
    if row is None:
        return None
    cell = re.search(
        r'<td data-label="Protokollstufe" data-log-level="(\w*)"[^>]*>(.*?)</td>',
        row.group(1),
        re.DOTALL,
    )
    assert cell, row.group(1)
    text = re.sub(r"<[^>]+>", " ", cell.group(2))
    return cell.group(1), " ".join(text.split())


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


async def test_a_worker_started_after_the_change_uses_the_saved_level(
    live_server: str, factory: Factory, services: Services, settings: Settings, tmp_path: Path
) -> None:
    async with admin(live_server, factory) as client:
        await save(client, **{LOG_LEVEL: "WARNING"})
        # Its own default is INFO; the saved WARNING applies from its start on.
        worker = start_worker(settings, tmp_path, "later")
        try:
            await wait_until_applied(services, {worker.pid}, within=30)

            async def shown() -> bool:
                return await shown_level(client, worker.pid) == (
                    "WARNING",
                    "WARNING · Einstellung",
                )

            await wait_until(shown, within=10, what="WARNING from the setting on the page")
            worker.signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0
        finally:
            stop_all(worker)
    # An INFO line written after the saved level applied (lines of the start-up before it
    # may be INFO: the process begins at its own default).
    assert "worker started" not in {line["message"] for line in log_lines(settings, worker.pid)}


async def test_log_level_in_the_environment_pins_the_process_over_the_saved_level(
    live_server: str, factory: Factory, services: Services, settings: Settings, tmp_path: Path
) -> None:
    async with admin(live_server, factory) as client:
        await save(client, **{LOG_LEVEL: "DEBUG"})
        pinned = start_worker(settings, tmp_path, "pinned", LOG_LEVEL="WARNING")
        following = start_worker(settings, tmp_path, "following")
        try:
            await wait_until_applied(services, {pinned.pid, following.pid}, within=30)

            async def both_shown() -> bool:
                return (
                    await shown_level(client, pinned.pid),
                    await shown_level(client, following.pid),
                ) == (
                    ("WARNING", "WARNING · Umgebung (LOG_LEVEL)"),
                    ("DEBUG", "DEBUG · Einstellung"),
                )

            await wait_until(both_shown, within=10, what="both levels and sources on the page")
            # A later save changes the following worker only.
            await save(client, **{LOG_LEVEL: "ERROR"})
            await wait_until_applied(services, {pinned.pid, following.pid}, within=10)

            async def after_save() -> bool:
                return (
                    await shown_level(client, pinned.pid),
                    await shown_level(client, following.pid),
                ) == (
                    ("WARNING", "WARNING · Umgebung (LOG_LEVEL)"),
                    ("ERROR", "ERROR · Einstellung"),
                )

            await wait_until(after_save, within=10, what="the save reaching only one worker")
        finally:
            stop_all(pinned, following)
    assert (pinned.process.returncode, following.process.returncode) == (0, 0)
    pinned_lines = log_lines(settings, pinned.pid)
    following_lines = log_lines(settings, following.pid)
    # The pinned worker never wrote below WARNING, though DEBUG was saved when it started;
    # the following one wrote its start (INFO) and DEBUG lines before ERROR was saved.
    assert {line["level"] for line in pinned_lines} <= {"warning", "error", "critical"}
    assert "worker started" in {line["message"] for line in following_lines}
    assert "debug" in {line["level"] for line in following_lines}
