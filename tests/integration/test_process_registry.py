"""Heartbeats of app and worker processes: recorded, listed while fresh, forgotten at stop."""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import time
import uuid

from tests.support.jobs import wait_until

from ailawyer import __version__
from ailawyer.health import check_health
from ailawyer.process_registry import ProcessRegistry, known_dead, new_process_id, pid_space
from ailawyer.services import Services


def registry(services: Services, kind: str, interval: float = 0.2) -> ProcessRegistry:
    return ProcessRegistry(
        services.redis, prefix=f"t{uuid.uuid4().hex[:8]}", kind=kind, interval_seconds=interval
    )


async def test_a_beat_records_who_the_process_is(services: Services) -> None:
    apps = registry(services, "app")

    await apps.beat("a-1", {"startedAt": 123.0})

    (record,) = await apps.alive()
    assert record["id"] == "a-1" and record["kind"] == "app"
    assert (record["pid"], record["python"], record["version"]) == (
        os.getpid(),
        platform.python_version(),
        __version__,
    )
    assert record["startedAt"] == 123.0 and abs(record["lastSeen"] - time.time()) < 5


async def test_apps_and_workers_are_listed_apart(services: Services) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    apps = ProcessRegistry(services.redis, prefix=prefix, kind="app", interval_seconds=1)
    workers = ProcessRegistry(services.redis, prefix=prefix, kind="worker", interval_seconds=1)

    await apps.beat("a-1", {})

    assert [r["id"] for r in await apps.alive()] == ["a-1"]
    # An app process is no worker: health still says nobody processes jobs.
    assert await workers.alive() == []
    assert (await check_health(services.db, services.redis, workers))["services"]["worker"][
        "status"
    ] == "down"


async def test_a_process_that_stops_beating_drops_out(services: Services) -> None:
    workers = registry(services, "worker", interval=0.1)
    beaten = time.monotonic()
    await workers.beat("w-1", {})
    assert await workers.alive()

    async def gone() -> bool:
        return await workers.alive() == []

    await wait_until(gone, within=5, interval=0.02, what="w-1 to drop out")
    # Not before three beats (0.3 s) were missed.
    assert time.monotonic() - beaten >= 0.3


async def test_heartbeats_run_in_the_background_and_end_with_the_block(
    services: Services,
) -> None:
    apps = registry(services, "app", interval=0.05)
    process_id = new_process_id()

    async with apps.heartbeats(process_id, lambda: {"startedAt": 1.0}):
        (first,) = await wait_until(apps.alive, within=2, what="the first heartbeat")
        await wait_until(
            lambda: _beat_after(apps, first["lastSeen"]), within=2, what="a second heartbeat"
        )

    assert await apps.alive() == []
    assert process_id.split(":")[1] == str(os.getpid())


async def _beat_after(registry: ProcessRegistry, seen: float) -> bool:
    records = await registry.alive()
    return bool(records) and records[0]["lastSeen"] > seen


async def test_the_running_app_process_sends_heartbeats(
    live_server: str, services: Services
) -> None:
    async def app_records() -> list[dict]:
        return await services.apps.alive()

    (record,) = await wait_until(app_records, within=5, what="the live server's heartbeat")

    assert record["kind"] == "app" and record["startedAt"] <= time.time()


async def test_a_process_is_known_dead_only_when_its_pid_space_is_ours_and_its_pid_is_gone(
    services: Services,
) -> None:
    workers = registry(services, "worker")
    await workers.beat("w-1", {})
    (own,) = await workers.alive()
    child = _killed_child()
    try:

        async def a_zombie() -> bool:
            return known_dead({**own, "pid": child.pid})

        # Killed but not yet reaped by its parent: it runs no code any more.
        await wait_until(a_zombie, within=5, what="the killed child to be known dead")
    finally:
        child.wait(5)

    assert own["pidSpace"] == pid_space() is not None
    assert known_dead({**own, "pid": child.pid}), "reaped"
    assert not known_dead(own), "this process runs"
    # Another machine or container, or a record that does not say: its pids mean nothing here.
    assert not known_dead({**own, "pid": child.pid, "pidSpace": "elsewhere/pid:[1]"})
    assert not known_dead({key: value for key, value in own.items() if key != "pidSpace"})


def _killed_child() -> subprocess.Popen[bytes]:
    """A child killed with SIGKILL and left unreaped (a zombie) until the caller waits."""
    child = subprocess.Popen(["sleep", "60"])
    child.send_signal(signal.SIGKILL)
    return child
