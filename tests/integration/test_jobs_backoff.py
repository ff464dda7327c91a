"""A failing job is retried exactly 3 times with the configured delays, then failed."""

from __future__ import annotations

import itertools
from datetime import datetime

from tests.support.jobs import isolated, job_log, job_services, running_pool, wait_for_state

from ailawyer.config import Settings
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services
from ailawyer.worker.processors.admin_test import STARTED

DELAYS = [0.3, 0.6, 0.9]
# Late by more than this means the worker did not wake for the delayed retry on time.
TOLERANCE_SECONDS = 0.35


def start_times(lines: list[str]) -> list[datetime]:
    """When each run began, from the timestamped job log lines."""
    marker = STARTED.split(" {")[0]
    return [datetime.fromisoformat(line.split(" ", 1)[0]) for line in lines if marker in line]


async def test_a_failing_job_is_retried_three_times_with_the_backoff_delays(
    settings: Settings, services: Services
) -> None:
    async with (
        job_services(isolated(settings, job_backoff_seconds=DELAYS)) as own,
        running_pool(own),
    ):
        job = await own.jobs.enqueue(
            "test", AdminTestPayload(duration_ms=0, steps=1, failure="always")
        )

        failed = await wait_for_state(own, "test", job.id, "failed", within=15)
        starts = start_times(await job_log(own, "test", job.id))

    assert failed.attemptsMade == 4
    assert len(starts) == 4, "the first run plus exactly 3 retries"
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    for gap, delay in zip(gaps, DELAYS, strict=True):
        assert delay - 0.02 <= gap <= delay + TOLERANCE_SECONDS, (gaps, DELAYS)
    assert "Testfehler" in (failed.failedReason or "")


async def test_a_job_that_fails_once_succeeds_on_its_first_retry(
    isolated_services: Services,
) -> None:
    async with running_pool(isolated_services):
        job = await isolated_services.jobs.enqueue(
            "test", AdminTestPayload(duration_ms=0, steps=1, failure="first-attempt")
        )

        done = await wait_for_state(isolated_services, "test", job.id, "completed", within=10)

    assert done.attemptsMade == 2
    assert done.returnvalue == {"steps": 1, "attempt": 2}
