"""The maintenance schedules heal themselves when Redis loses them, without a worker restart.

Found under load: a Redis that came back empty ran neither the recovery of Dokumente nor
the retention again, since their job schedulers live only in Redis and were created only
when a worker started. Every worker now checks them and re-creates what is missing.
"""

from __future__ import annotations

import asyncio

from tests.support.jobs import isolated, job_services, running_pool, wait_until

from ailawyer.config import Settings
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.services import Services
from ailawyer.worker import maintenance
from ailawyer.worker.maintenance import SCHEDULES, ensure_scheduled, is_scheduled, schedule

TASKS = [entry.task for entry in SCHEDULES]


async def scheduled(services: Services) -> list[bool]:
    return [await is_scheduled(services.jobs, entry) for entry in SCHEDULES]


async def next_run_ids(services: Services) -> list[str]:
    queue = services.jobs.queue("system")
    return [
        f"repeat:{entry.task}:{(await queue.getJobScheduler(entry.task))['next']}"
        for entry in SCHEDULES
    ]


async def test_a_schedule_lost_with_redis_or_left_without_a_next_run_is_re_created(
    isolated_services: Services,
) -> None:
    services = isolated_services
    assert await ensure_scheduled(services.jobs, services.settings) == TASKS
    assert await scheduled(services) == [True, True]
    runs = await next_run_ids(services)

    assert await ensure_scheduled(services.jobs, services.settings) == [], "all in place"
    assert await next_run_ids(services) == runs, "no second run was added"

    # An empty Redis (a lost volume, a failover to an empty replica).
    prefix = services.settings.redis_key_prefix
    await services.redis.delete(*[key async for key in services.redis.scan_iter(f"{prefix}:*")])
    assert await scheduled(services) == [False, False]
    assert await ensure_scheduled(services.jobs, services.settings) == TASKS
    assert await scheduled(services) == [True, True]

    # A Redis restored without the scheduler's next run: the scheduler alone never runs again.
    # (bullmq refuses to remove a scheduler's job: the test takes it out of Redis itself.)
    [retention_run, _] = await next_run_ids(services)
    queue = services.jobs.queue("system")
    await services.redis.delete(queue.toKey(retention_run))
    await services.redis.lrem(queue.toKey("wait"), 0, retention_run)
    await services.redis.zrem(queue.toKey("delayed"), retention_run)
    assert await scheduled(services) == [False, True]
    assert await ensure_scheduled(services.jobs, services.settings) == [TASKS[0]]
    assert await scheduled(services) == [True, True]


async def test_a_worker_re_creates_the_schedules_when_redis_was_emptied_under_it(
    settings: Settings, services: Services
) -> None:
    # A FLUSHALL closes no connection: only the periodic check can notice; it comes as
    # often as the recovery runs.
    async with job_services(isolated(settings, dokumente_recovery_seconds=0.5)) as own:
        await _keeps_the_schedules(own)


async def _keeps_the_schedules(services: Services) -> None:
    maintenance_task = asyncio.create_task(maintenance.keep_maintenance(services))
    try:
        await wait_until(
            lambda: _all_scheduled(services), within=5, what="the schedules at worker start"
        )
        prefix = services.settings.redis_key_prefix
        keys = [key async for key in services.redis.scan_iter(f"{prefix}:*")]
        await services.redis.delete(*keys)
        await wait_until(
            lambda: _all_scheduled(services),
            within=5,
            what="the schedules re-created",
        )
    finally:
        maintenance_task.cancel()
        await asyncio.gather(maintenance_task, return_exceptions=True)


async def _all_scheduled(services: Services) -> bool:
    return all(await scheduled(services))


async def test_the_scheduled_runs_do_their_tasks(isolated_services: Services) -> None:
    services = isolated_services
    for entry in SCHEDULES:
        await schedule(services.jobs, services.settings, entry)
    async with running_pool(services):
        for task in TASKS:

            async def ran(task: str = task) -> bool:
                done = await services.jobs.queue("system").getJobs(["completed"])
                return any(SystemTaskPayload.model_validate(j.data).task == task for j in done)

            await wait_until(ran, within=10, what=f"a completed run of {task}")
