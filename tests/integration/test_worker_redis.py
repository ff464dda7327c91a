"""Redis trouble: the worker survives a restart and an outage and resumes by itself.

Each test owns its Redis (AOF on, like production). A restart with SHUTDOWN flushes the
AOF, so every acknowledged job must come back and complete.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tests.support.jobs import isolated, job_services, wait_for_state, wait_until
from tests.support.worker_processes import start_worker, stop_all, wait_for_workers

from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

# CI runs the short outage; `-m slow` (or OUTAGE_SECONDS) runs the several-minute one.
SHORT_OUTAGE_SECONDS = 5.0
LONG_OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "180"))


async def test_every_job_completes_across_a_redis_restart(
    settings: Settings, services: Services, own_redis: RedisServer, tmp_path: Path
) -> None:
    own_settings = isolated(settings, redis_url=own_redis.url)
    async with job_services(own_settings) as own:
        worker = start_worker(own_settings, tmp_path, "worker")
        try:
            await wait_for_workers(own, 1)
            job_ids = [
                str((await own.jobs.enqueue("test", AdminTestPayload(duration_ms=1500))).id)
                for _ in range(6)
            ]
            # Two of them run (concurrency 2), four wait.
            await wait_for_state(own, "test", job_ids[0], "active", within=10)

            await asyncio.to_thread(own_redis.restart)

            for job_id in job_ids:
                await wait_for_state(own, "test", job_id, "completed", within=30)
            assert worker.process.poll() is None, "the worker survived"
        finally:
            stop_all(worker)
    assert worker.process.returncode == 0, worker.output()[-3000:]


async def _survives_an_outage(
    settings: Settings, redis_server: RedisServer, tmp_path: Path, outage_seconds: float
) -> None:
    own_settings = isolated(settings, redis_url=redis_server.url)
    async with job_services(own_settings) as own:
        worker = start_worker(own_settings, tmp_path, "worker")
        try:
            await wait_for_workers(own, 1)
            running = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=2000))
            queued = [
                await own.jobs.enqueue("test", AdminTestPayload(duration_ms=200)) for _ in range(3)
            ]
            await wait_for_state(own, "test", running.id, "active", within=10)

            await asyncio.to_thread(redis_server.stop)
            # The outage's length is the subject: nothing to poll for but the time passing.
            await asyncio.sleep(outage_seconds)
            assert worker.process.poll() is None, "the worker kept running without Redis"
            await asyncio.to_thread(redis_server.start)

            for job in (running, *queued):
                await wait_for_state(own, "test", job.id, "completed", within=30)
            after = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=0, steps=1))
            await wait_for_state(own, "test", after.id, "completed", within=15)
            await wait_for_workers(own, 1, within=10)  # heartbeats resumed
        finally:
            stop_all(worker)
    assert worker.process.returncode == 0, worker.output()[-3000:]


async def test_the_worker_resumes_by_itself_after_a_redis_outage(
    settings: Settings, services: Services, own_redis: RedisServer, tmp_path: Path
) -> None:
    await _survives_an_outage(settings, own_redis, tmp_path, SHORT_OUTAGE_SECONDS)


@pytest.mark.slow
@pytest.mark.timeout(LONG_OUTAGE_SECONDS + 120)
async def test_the_worker_resumes_by_itself_after_a_redis_outage_of_minutes(
    settings: Settings, services: Services, own_redis: RedisServer, tmp_path: Path
) -> None:
    await _survives_an_outage(settings, own_redis, tmp_path, LONG_OUTAGE_SECONDS)


async def test_a_worker_started_before_redis_begins_working_when_redis_comes(
    settings: Settings, services: Services, own_redis: RedisServer, tmp_path: Path
) -> None:
    own_settings = isolated(settings, redis_url=own_redis.url)
    await asyncio.to_thread(own_redis.stop)
    worker = start_worker(own_settings, tmp_path, "early")
    try:

        async def found_no_redis() -> bool:
            return "Redis connection lost" in worker.output()

        await wait_until(found_no_redis, within=15, what="the worker to find no Redis")
        assert worker.process.poll() is None
        await asyncio.to_thread(own_redis.start)
        async with job_services(own_settings) as own:
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=0, steps=1))
            await wait_for_state(own, "test", job.id, "completed", within=15)
    finally:
        stop_all(worker)
    assert worker.process.returncode == 0, worker.output()[-3000:]
