"""Concurrency per queue is a runtime setting: a running worker applies a change live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.jobs import isolated, job_services, wait_until
from tests.support.worker_processes import start_worker, stop_all, wait_for_workers

from ailawyer.config import Settings
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.runtime_settings.definitions import job_concurrency
from ailawyer.services import Services

KEY = job_concurrency("test")


async def heartbeat_concurrency(services: Services, expected: int) -> list[Any] | None:
    alive = await services.workers.alive()
    ok = alive and alive[0]["queues"]["test"]["concurrency"] == expected
    return alive if ok else None


async def test_a_running_worker_applies_a_new_concurrency_without_restart(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    # No grace: the long jobs need not finish when the test stops the worker.
    own_settings = isolated(settings, shutdown_grace_seconds=0)
    async with job_services(own_settings) as own:
        # Set before the start: a worker that starts later reads the current value.
        await own.runtime_settings.set(KEY, 1)
        worker = start_worker(own_settings, tmp_path, "worker")
        try:
            await wait_for_workers(own, 1)
            assert await heartbeat_concurrency(own, 1)

            await own.runtime_settings.set(KEY, 5)
            await wait_until(lambda: heartbeat_concurrency(own, 5), within=3, what="5 slots")
            job_ids = [
                str((await own.jobs.enqueue("test", AdminTestPayload(duration_ms=8000))).id)
                for _ in range(5)
            ]

            async def all_running() -> bool:
                queue = own.jobs.queue("test")
                return all([await queue.getJobState(j) == "active" for j in job_ids])

            # The first job wakes the idle worker, which then fills all five slots.
            await wait_until(all_running, within=5, what="5 jobs running at once")
        finally:
            stop_all(worker)
    assert worker.process.returncode == 0
