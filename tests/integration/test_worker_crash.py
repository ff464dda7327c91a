"""A worker killed with SIGKILL loses no job: another worker runs it within the bound."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.support.jobs import isolated, job_services, wait_for_state, wait_until
from tests.support.worker_processes import runs, start_worker, stop_all, wait_for_workers

from ailawyer.config import Settings
from ailawyer.jobs.options import stalled_recovery_bound_seconds
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

# Python start-up of the polling and the second run's first log line.
SLACK_SECONDS = 1.5


async def test_a_killed_workers_job_completes_on_another_worker_within_the_bound(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    own_settings = isolated(settings)
    bound = stalled_recovery_bound_seconds(own_settings)
    async with job_services(own_settings) as own:
        doomed = start_worker(own_settings, tmp_path, "doomed")
        survivor = None
        try:
            await wait_for_workers(own, 1)
            job = await own.jobs.enqueue("test", AdminTestPayload(duration_ms=2000, steps=4))
            await wait_for_state(own, "test", job.id, "active", within=10)
            survivor = start_worker(own_settings, tmp_path, "survivor")
            await wait_for_workers(own, 2)

            doomed.signal(signal.SIGKILL)
            killed_at = time.monotonic()
            doomed.wait(timeout=5)

            async def restarted() -> bool:
                return (await runs(own, str(job.id)))[0] == 2

            await wait_until(restarted, within=bound + 10, what="the second run")
            recovered_after = time.monotonic() - killed_at
            done = await wait_for_state(own, "test", job.id, "completed", within=10)
        finally:
            stop_all(doomed, *([survivor] if survivor else []))

    assert recovered_after <= bound + SLACK_SECONDS, (recovered_after, bound)
    assert done.attemptsStarted == 2
    assert done.attemptsMade == 1
    assert await runs(own, str(job.id)) == (2, 1), "started twice, finished once"
