"""Job-system test helpers: fast settings, isolated key prefixes, waiting without hanging."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from bullmq import Job
from redis.exceptions import ConnectionError as RedisConnectionError

from ailawyer.config import Settings
from ailawyer.services import Services
from ailawyer.worker.pool import WorkerPool

T = TypeVar("T")

# Scaled down so the suite stays fast; test_jobs_options reads the real defaults.
FAST_JOB_SETTINGS: dict[str, Any] = {
    "job_backoff_seconds": [0.2, 0.4, 0.6],
    "job_lock_seconds": 3.0,
    "job_stalled_interval_seconds": 1.0,
    "worker_reconnect_seconds": 0.2,
    # Scaled up: the run's shared worker must not enqueue other tests' Dokumente (their
    # jobs live under key prefixes it does not see) nor re-create its schedules in a Redis
    # a test just emptied. Tests of the recovery set their own interval.
    "dokumente_recovery_seconds": 3600.0,
}
# The settings `worker_env` hands to `ailawyer` subprocesses (besides process_env's own).
_WORKER_FIELDS = (
    "redis_key_prefix",
    "job_attempts",
    "job_backoff_seconds",
    "job_keep_completed_seconds",
    "job_keep_failed_seconds",
    "job_cleanup_interval_seconds",
    "dokumente_recovery_seconds",
    "job_lock_seconds",
    "job_stalled_interval_seconds",
    "job_max_stalled_count",
    "worker_reconnect_seconds",
    "shutdown_grace_seconds",
)


def worker_env(settings: Settings) -> dict[str, str]:
    """Environment variables carrying the job settings of `settings` to a subprocess."""
    env: dict[str, str] = {}
    for name in _WORKER_FIELDS:
        value = getattr(settings, name)
        env[name.upper()] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return env


def isolated(settings: Settings, **overrides: Any) -> Settings:
    """`settings` with a key prefix of its own: no other worker of the run sees its queues."""
    return settings.model_copy(
        update={"redis_key_prefix": f"t{uuid.uuid4().hex[:10]}", **overrides}
    )


async def wait_until(
    check: Callable[[], Awaitable[T]], *, within: float, interval: float = 0.05, what: str = ""
) -> T:
    """Poll `check` until it returns something truthy; fail after `within` seconds.

    A Redis connection error counts as "not yet": tests restart and stop Redis on purpose.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            result = await check()
        except RedisConnectionError:
            result = None
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or check}")
        await asyncio.sleep(interval)


async def job_state(services: Services, queue: str, job_id: str) -> str | None:
    job = await services.jobs.get_job(queue, job_id)
    return None if job is None else await job.getState()


async def wait_for_state(
    services: Services, queue: str, job_id: str, state: str, *, within: float
) -> Job:
    """Wait until the job is in `state`; returns it freshly read."""

    async def reached() -> Job | None:
        job = await services.jobs.get_job(queue, job_id)
        if job is None or await job.getState() != state:
            return None
        # Read again: the first read may predate the script that moved the job into
        # `state` (it bumps attemptsMade and sets the failure in the same step).
        return await services.jobs.get_job(queue, job_id)

    return await wait_until(reached, within=within, what=f"{queue}/{job_id} to be {state}")


async def job_log(services: Services, queue: str, job_id: str) -> list[str]:
    return (await services.jobs.queue(queue).getJobLogs(job_id))["logs"]


@asynccontextmanager
async def job_services(settings: Settings) -> AsyncIterator[Services]:
    """Services for `settings` with their runtime settings following changes."""
    services = Services.create(settings)
    await services.runtime_settings.start()
    try:
        yield services
    finally:
        await services.close()


@asynccontextmanager
async def running_pool(services: Services, worker_id: str = "test") -> AsyncIterator[WorkerPool]:
    """A WorkerPool in this event loop, stopped (gracefully) at the end."""
    pool = WorkerPool(services, worker_id)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop(5.0, asyncio.Event())
