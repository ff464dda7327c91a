"""`ailawyer worker` subprocesses for the tests that signal, kill or cut off workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import process_env
from tests.support.jobs import job_log, wait_until
from tests.support.processes import AilawyerProcess

from ailawyer.config import Settings
from ailawyer.services import Services
from ailawyer.worker.dead_workers import LOCK_OWNERS
from ailawyer.worker.processors.admin_test import FINISHED, STARTED

STARTED_MARK = STARTED.split(" {")[0]


def start_worker(settings: Settings, log_dir: Path, name: str) -> AilawyerProcess:
    """A worker subprocess configured like `settings` (its key prefix included)."""
    return AilawyerProcess(["worker"], process_env(settings), log_dir / f"{name}.out")


async def wait_for_workers(services: Services, count: int, within: float = 30) -> list[Any]:
    """Wait until `count` workers send heartbeats under the key prefix of `services`."""

    async def enough() -> list[Any] | None:
        alive = await services.workers.alive()
        return alive if len(alive) >= count else None

    return await wait_until(enough, within=within, what=f"{count} worker heartbeat(s)")


async def runs(services: Services, job_id: str) -> tuple[int, int]:
    """How often the admin test job `job_id` was started and how often it finished."""
    lines = await job_log(services, "test", job_id)
    return (
        sum(STARTED_MARK in line for line in lines),
        sum(line.endswith(FINISHED) for line in lines),
    )


async def worker_running_a_job(
    services: Services, processes: list[AilawyerProcess], job_id: str
) -> AilawyerProcess:
    """The one of `processes` that holds the lock of test job `job_id`, once the job has
    started there (its first log line): its heartbeat names the lock owners of its bullmq
    Workers (`worker.dead_workers`)."""
    by_pid = {process.pid: process for process in processes}
    lock_key = f"{services.jobs.queue('test').toKey(job_id)}:lock"

    async def holder() -> AilawyerProcess | None:
        token = await services.redis.get(lock_key)
        if token is None:
            return None
        for record in await services.workers.alive():
            owner = record.get(LOCK_OWNERS, {}).get("test")
            if owner and token.startswith(owner) and record["pid"] in by_pid:
                return by_pid[record["pid"]]
        return None

    holding = await wait_until(holder, within=10, what=f"the worker running test/{job_id}")

    async def started() -> bool:
        return (await runs(services, job_id))[0] > 0

    await wait_until(started, within=10, what=f"test/{job_id} to start")
    return holding


def stop_all(*processes: AilawyerProcess) -> None:
    for process in processes:
        process.stop(timeout=15)
