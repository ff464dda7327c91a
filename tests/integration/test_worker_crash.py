"""A worker killed with SIGKILL loses no job: another worker runs it within the bound."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support.dokumente import notifications_of
from tests.support.factories import Factory
from tests.support.jobs import isolated, job_services, wait_for_state, wait_until
from tests.support.personas import build_operator
from tests.support.worker_processes import (
    runs,
    start_worker,
    stop_all,
    wait_for_workers,
    worker_running_a_job,
)

from ailawyer.config import Settings
from ailawyer.db.models import Notification
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

# The test's polling and the second run's first log line.
SLACK_SECONDS = 1.5


async def test_a_killed_workers_job_completes_on_another_worker_within_the_bound(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    own_settings = isolated(settings)
    # The dead worker's lock expires at most a lock after its last renewal; the first
    # stalled check after that (at most one interval later) moves the job back to waiting.
    bound = own_settings.job_lock_seconds + own_settings.job_stalled_interval_seconds
    async with job_services(own_settings) as own:
        workers = [start_worker(own_settings, tmp_path, name) for name in ("a", "b")]
        try:
            await wait_for_workers(own, 2)
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=4000, steps=8))
            doomed = await worker_running_a_job(own, workers)

            doomed.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            doomed.wait(timeout=5)

            async def restarted() -> bool:
                return (await runs(own, str(job.id)))[0] == 2

            await wait_until(restarted, within=bound + 10, what="the second run")
            recovered_after = time.monotonic() - killed_at
            done = await wait_for_state(own, "test", job.id, "completed", within=15)
        finally:
            stop_all(*workers)

    assert recovered_after <= bound + SLACK_SECONDS, (recovered_after, bound)
    assert done.attemptsStarted == 2
    assert done.attemptsMade == 1
    assert await runs(own, str(job.id)) == (2, 1), "started twice, finished once"


async def test_a_job_that_stalls_too_often_fails_and_the_operator_is_told(
    settings: Settings, services: Services, tmp_path: Path, factory: Factory
) -> None:
    # A test job is the installation's: its failure is the operator's to hear of.
    admin = await build_operator(factory)
    # No stall allowed: the first crash fails the job (bullmq's own failure, no processor).
    own_settings = isolated(settings, job_max_stalled_count=0)
    async with job_services(own_settings) as own:
        workers = [start_worker(own_settings, tmp_path, name) for name in ("a", "b")]
        try:
            await wait_for_workers(own, 2)
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=4000, steps=8))
            doomed = await worker_running_a_job(own, workers)
            doomed.signal(signal.SIGKILL)
            doomed.wait(timeout=5)

            failed = await wait_for_state(own, "test", job.id, "failed", within=20)

            async def told() -> list[Notification]:
                return await notifications_of(own, admin.id)

            [notice] = await wait_until(told, within=5, what="the admin's notification")
        finally:
            stop_all(*workers)

    assert "stalled more than allowable limit" in (failed.failedReason or "")
    assert notice.type == "job.failed.admin"
    assert f"test #{job.id}" in notice.title
