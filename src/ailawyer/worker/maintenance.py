"""Retention: remove finished jobs older than the configured ages, on a schedule.

bullmq removes old jobs only when a later job of the same queue finishes, so a queue
that goes quiet would keep its old jobs forever; this task enforces the ages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ailawyer.config import Settings
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.jobs.queues import JobQueues

log = get_logger(__name__)

RETENTION_SCHEDULER_ID = "retention-cleanup"
# Bounds one Lua call, so a queue with a million old jobs never blocks Redis for long.
CLEAN_BATCH = 1000


async def clean_finished_jobs(
    queues: JobQueues, *, completed_seconds: int, failed_seconds: int
) -> dict[str, int]:
    """Remove completed and failed jobs older than the ages from every queue; counts per queue."""
    removed: dict[str, int] = {}
    for name in await queues.discover():
        queue = queues.queue(name)
        count = 0
        for state, age_seconds in (("completed", completed_seconds), ("failed", failed_seconds)):
            while True:
                batch = await queue.clean(age_seconds * 1000, CLEAN_BATCH, state)
                count += len(batch)
                if len(batch) < CLEAN_BATCH:
                    break
        if count:
            removed[name] = count
    log.info("retention cleanup done", removed=removed)
    return removed


async def schedule_retention_cleanup(queues: JobQueues, settings: Settings) -> None:
    """Make sure the cleanup runs every interval; idempotent, every worker calls it at start."""
    payload = SystemTaskPayload(task="retention-cleanup")
    # Upsert keeps one scheduler however many workers start; bullmq creates each next run.
    await queues.queue("system").upsertJobScheduler(
        RETENTION_SCHEDULER_ID,
        {"every": round(settings.job_cleanup_interval_seconds * 1000)},
        RETENTION_SCHEDULER_ID,
        payload.to_job_data(),
        {"attempts": 1},
    )
