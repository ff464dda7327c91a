"""`ailawyer healthcheck worker`: exit 0 exactly while a worker process here sends heartbeats."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.conftest import process_env
from tests.support.jobs import isolated, job_services, wait_until
from tests.support.worker_processes import start_worker, stop_all

from ailawyer.config import Settings
from ailawyer.services import Services


async def healthcheck(settings: Settings) -> tuple[int, str]:
    """Run the command as the container's healthcheck does; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ailawyer",
        "healthcheck",
        "worker",
        env=process_env(settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_healthy_exactly_while_a_worker_process_here_beats(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    own_settings = isolated(settings)
    async with job_services(own_settings) as own:
        # A worker in another container beats under the same prefix: not this one's.
        await own.workers.beat("elsewhere:1:abc", {"host": "another-container", "pid": 1})
        code, output = await healthcheck(own_settings)
        assert code == 1 and output.startswith("Kein Worker-Prozess"), output

        worker = start_worker(own_settings, tmp_path, "worker")
        try:
            await wait_until(lambda: beats(own, worker.pid, True), within=30, what="a beat")
            code, output = await healthcheck(own_settings)
            assert code == 0 and f"PID {worker.pid}," in output, output

            # Hung: the process lives on, but its heartbeats stop.
            worker.signal(signal.SIGSTOP)
            await wait_until(lambda: beats(own, worker.pid, False), within=10, what="no beat")
            assert (await healthcheck(own_settings))[0] == 1
            worker.signal(signal.SIGCONT)
            await wait_until(lambda: beats(own, worker.pid, True), within=10, what="a beat")
            assert (await healthcheck(own_settings))[0] == 0

            # Killed: its last record is still fresh in Redis, yet no process beats here.
            worker.signal(signal.SIGKILL)
            worker.wait(timeout=10)
            assert await beats(own, worker.pid, True)
            assert (await healthcheck(own_settings))[0] == 1
        finally:
            stop_all(worker)


async def beats(services: Services, pid: int, expected: bool) -> bool:
    """Whether the worker `pid` has a fresh heartbeat is `expected`."""
    alive = any(record["pid"] == pid for record in await services.workers.alive())
    return alive is expected


async def test_without_redis_it_says_so_and_fails(settings: Settings) -> None:
    unreachable = isolated(settings, redis_url="redis://127.0.0.1:9/0")

    code, output = await healthcheck(unreachable)

    assert code == 1
    assert "Herzschlag nicht lesbar" in output
