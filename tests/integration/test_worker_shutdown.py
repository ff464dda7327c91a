"""SIGTERM/SIGINT: stop taking jobs, let running ones finish, exit 0; never fail a job.

The jobs run longer than the lock duration while another worker watches for stalled
jobs: bullmq's `Worker.close()` stops renewing locks at once, so a worker that just
closed would lose its running jobs to the other worker, and they would run twice.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support.jobs import isolated, job_services, wait_for_state, wait_until
from tests.support.worker_processes import runs, start_worker, stop_all, wait_for_workers

from ailawyer.config import Settings
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.runtime_settings.definitions import job_concurrency
from ailawyer.services import Services

LONG_JOB = AdminTestPayload(duration_ms=9000, steps=18)


async def all_active(services: Services, job_ids: list[str]) -> bool:
    states = [await services.jobs.queue("test").getJobState(j) for j in job_ids]
    return all(state == "active" for state in states)


async def test_sigterm_lets_every_running_job_finish_once_and_exits_0(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    own_settings = isolated(settings, shutdown_grace_seconds=20)
    async with job_services(own_settings) as own:
        # A free slot: bullmq's close() would end its fetch loop, and lock renewal, at once.
        await own.runtime_settings.set(job_concurrency("test"), 4)
        stopping = start_worker(own_settings, tmp_path, "stopping")
        watching = None
        try:
            await wait_for_workers(own, 1)
            job_ids = [str((await own.jobs.enqueue("test", LONG_JOB)).id) for _ in range(3)]
            await wait_until(lambda: all_active(own, job_ids), within=10, what="3 active jobs")
            # An idle second worker that would pick up any job whose lock lapses.
            watching = start_worker(own_settings, tmp_path, "watching")
            await wait_for_workers(own, 2)

            stopping.signal(signal.SIGTERM)
            exit_code = stopping.wait(timeout=20)

            for job_id in job_ids:
                job = await wait_for_state(own, "test", job_id, "completed", within=15)
                assert job.attemptsStarted == 1, job_id
                assert await runs(own, job_id) == (1, 1), job_id
        finally:
            stop_all(stopping, *([watching] if watching else []))

    assert exit_code == 0, stopping.output()[-3000:]
    assert '"allJobsFinished": true' in stopping.output()


async def test_a_job_still_running_after_the_grace_period_is_left_to_recovery_not_failed(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    own_settings = isolated(settings, shutdown_grace_seconds=0.5)
    async with job_services(own_settings) as own:
        first = start_worker(own_settings, tmp_path, "first")
        try:
            await wait_for_workers(own, 1)
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=4000, steps=8))
            await wait_for_state(own, "test", job.id, "active", within=10)

            first.signal(signal.SIGTERM)
            assert first.wait(timeout=10) == 0, first.output()[-3000:]
            assert await own.jobs.queue("test").getJobState(job.id) == "active"

            second = start_worker(own_settings, tmp_path, "second")
            try:
                done = await wait_for_state(own, "test", job.id, "completed", within=30)
            finally:
                stop_all(second)
        finally:
            stop_all(first)

    assert done.attemptsMade == 1, "the shutdown did not count as a failed attempt"
    assert await runs(own, str(job.id)) == (2, 1)


async def test_a_second_signal_stops_at_once_and_leaves_the_job_to_recovery(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    own_settings = isolated(settings, shutdown_grace_seconds=25)
    async with job_services(own_settings) as own:
        worker = start_worker(own_settings, tmp_path, "worker")
        try:
            await wait_for_workers(own, 1)
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=20_000, steps=20))
            await wait_for_state(own, "test", job.id, "active", within=10)

            worker.signal(signal.SIGINT)

            async def stopping() -> bool:
                return "stop requested" in worker.output()

            # The second signal must meet a worker that is already stopping.
            await wait_until(stopping, within=10, what="the first signal to be handled")
            started = time.monotonic()
            worker.signal(signal.SIGINT)
            exit_code = worker.wait(timeout=10)
            stopped_after = time.monotonic() - started
            state = await own.jobs.queue("test").getJobState(job.id)
        finally:
            stop_all(worker)

    assert exit_code == 0, worker.output()[-3000:]
    assert stopped_after < 3
    assert state == "active"
