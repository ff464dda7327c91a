"""The scheduled cleanup removes finished jobs older than the retention ages, keeps newer ones.

bullmq removes old jobs only when a later job of the same queue finishes; the cleanup
job enforces the ages for queues that went quiet.
"""

from __future__ import annotations

import time

from tests.support.jobs import running_pool, wait_for_state

from ailawyer.jobs.payloads import AdminTestPayload, SystemTaskPayload
from ailawyer.runtime_settings.definitions import (
    JOB_RETENTION_COMPLETED_SECONDS,
    JOB_RETENTION_FAILED_SECONDS,
)
from ailawyer.services import Services

COMPLETED_AGE = 3600
FAILED_AGE = 7200


async def finish(services: Services, failure: str, state: str) -> str:
    job = await services.jobs.enqueue(
        "test", AdminTestPayload(duration_ms=0, steps=1, failure=failure)
    )
    await wait_for_state(services, "test", job.id, state, within=10)
    return str(job.id)


async def age(services: Services, job_id: str, state: str, seconds: int) -> None:
    """Make a finished job look `seconds` old (finishedOn and its score in the state set)."""
    finished_on = round((time.time() - seconds) * 1000)
    queue = services.jobs.queue("test")
    await services.redis.hset(queue.toKey(job_id), "finishedOn", finished_on)
    await services.redis.zadd(queue.toKey(state), {job_id: finished_on})


async def test_cleanup_removes_finished_jobs_older_than_the_limits_and_keeps_newer_ones(
    isolated_services: Services,
) -> None:
    services = isolated_services
    await services.runtime_settings.set(JOB_RETENTION_COMPLETED_SECONDS, COMPLETED_AGE)
    await services.runtime_settings.set(JOB_RETENTION_FAILED_SECONDS, FAILED_AGE)
    async with running_pool(services):
        old_done = await finish(services, "never", "completed")
        new_done = await finish(services, "never", "completed")
        old_failed = await finish(services, "always", "failed")
        new_failed = await finish(services, "always", "failed")
        # Older than the completed age, younger than the failed age: kept while failed.
        between_failed = await finish(services, "always", "failed")
        await age(services, old_done, "completed", COMPLETED_AGE + 60)
        await age(services, new_done, "completed", COMPLETED_AGE - 60)
        await age(services, old_failed, "failed", FAILED_AGE + 60)
        await age(services, new_failed, "failed", FAILED_AGE - 60)
        await age(services, between_failed, "failed", COMPLETED_AGE + 60)

        cleanup = await services.jobs.enqueue("system", SystemTaskPayload(task="retention-cleanup"))
        done = await wait_for_state(services, "system", cleanup.id, "completed", within=10)

    assert done.returnvalue["jobsRemoved"] == {"test": 2}
    for gone in (old_done, old_failed):
        assert await services.jobs.get_job("test", gone) is None
        assert await services.redis.exists(services.jobs.queue("test").toKey(gone)) == 0
    for kept in (new_done, new_failed, between_failed):
        assert await services.jobs.get_job("test", kept) is not None
