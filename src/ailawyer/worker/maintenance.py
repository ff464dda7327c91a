"""Scheduled maintenance: which system tasks run how often, kept scheduled by every worker.

The schedules are bullmq job schedulers, so they live only in Redis. A Redis that comes
back empty (a lost volume, a failover to an empty replica) or without its last writes (a
crashed host) would otherwise run neither task again until some worker restarts, and the
Dokumente whose jobs it lost would wait that long too. So every worker process, for as
long as it runs (`keep_maintenance`):

1. upserts every schedule when it starts (a changed interval takes effect);
2. re-creates a schedule that is missing or whose next run is gone (bullmq adds a
   scheduler's next run only when the current one starts; a Redis error at that moment
   ends the schedule), checked as often as the recovery runs;
3. when Redis comes back (`ailawyer.redis_client.RedisReturns`) checks the schedules and
   enqueues the jobs of Dokumente whose job is gone at once, without the recovery's grace
   period for uploads under way (`ailawyer.dokumente.recovery`), instead of leaving them to
   the next run of the recovery task; at start it runs the recovery once as well.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ailawyer.config import Settings
from ailawyer.dokumente.recovery import GRACE_SECONDS, requeue_orphaned_dokumente
from ailawyer.jobs.catalog import SYSTEM
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.logs import get_logger
from ailawyer.redis_client import RedisReturns

if TYPE_CHECKING:
    from ailawyer.jobs.queues import JobQueues
    from ailawyer.services import Services

log = get_logger(__name__)

# How soon a worker notices that Redis came back.
WATCH_SECONDS = 1.0
# States of a scheduler's next run in which it will still run (bullmq's `getState`).
_FINISHED_STATES = frozenset({"completed", "failed", "unknown"})


@dataclass(frozen=True)
class Schedule:
    """A system task run every interval; the task's name is its scheduler's id."""

    payload: SystemTaskPayload
    every_seconds: Callable[[Settings], float]

    @property
    def task(self) -> str:
        return self.payload.task


SCHEDULES = (
    Schedule(
        SystemTaskPayload(task="retention-cleanup"),
        lambda settings: settings.job_cleanup_interval_seconds,
    ),
    Schedule(
        SystemTaskPayload(task="dokumente-recovery"),
        lambda settings: settings.dokumente_recovery_seconds,
    ),
)


async def schedule(queues: JobQueues, settings: Settings, entry: Schedule) -> None:
    """Create or update the schedule; idempotent, however many workers call it."""
    await queues.queue(SYSTEM.name).upsertJobScheduler(
        entry.task,
        {"every": round(entry.every_seconds(settings) * 1000)},
        entry.task,
        entry.payload.to_job_data(),
        {"attempts": 1},
    )


async def is_scheduled(queues: JobQueues, entry: Schedule) -> bool:
    """Whether the schedule exists and its next run is still to come."""
    queue = queues.queue(SYSTEM.name)
    try:
        scheduler = await queue.getJobScheduler(entry.task)
    except ValueError:
        # bullmq 3.4.4 cannot unpack its own "no such scheduler" answer (docs/ARCHITECTURE.md,
        # bullmq pitfalls).
        return False
    if scheduler is None or scheduler.get("next") is None:
        return False
    # A scheduler's next run is the job `repeat:<id>:<next>` (bullmq's job_scheduler.py);
    # bullmq adds the one after it only when that job starts. Lost, or restored already
    # finished, it would leave the scheduler without a run for ever.
    job = await queue.getJob(f"repeat:{entry.task}:{scheduler['next']}")
    return job is not None and await job.getState() not in _FINISHED_STATES


async def ensure_scheduled(queues: JobQueues, settings: Settings) -> list[str]:
    """Re-create each schedule that is missing or broken; the tasks re-created."""
    recreated = []
    for entry in SCHEDULES:
        if not await is_scheduled(queues, entry):
            await schedule(queues, settings, entry)
            recreated.append(entry.task)
    if recreated:
        log.warning("maintenance schedules re-created", tasks=recreated)
    return recreated


async def keep_maintenance(services: Services) -> None:
    """Keep the schedules and repair what Redis lost, until cancelled (see the module)."""
    settings = services.settings
    returns = RedisReturns(services.redis)
    upserted = False
    # The grace of the next recovery to run now, if one is due.
    recover: float | None = GRACE_SECONDS
    next_check = 0.0
    failing = False
    while True:
        try:
            if not upserted:
                for entry in SCHEDULES:
                    await schedule(services.jobs, settings, entry)
                upserted = True
                next_check = time.monotonic() + settings.dokumente_recovery_seconds
            if await returns.came_back():
                log.warning("redis is back; checking schedules and Dokumente without a job")
                recover, next_check = 0.0, 0.0
            if time.monotonic() >= next_check:
                await ensure_scheduled(services.jobs, settings)
                next_check = time.monotonic() + settings.dokumente_recovery_seconds
            if recover is not None:
                await requeue_orphaned_dokumente(services, grace_seconds=recover)
                recover = None
        except Exception as error:
            # Redis or the database away: the next round tries again; said once per outage.
            if not failing:
                log.warning("maintenance check failed; retrying", error=repr(error))
            failing = True
        else:
            failing = False
        await asyncio.sleep(WATCH_SECONDS)
