"""Retention: remove finished jobs older than the configured ages, on a schedule.

bullmq removes old jobs only when a later job of the same queue finishes, so a queue
that goes quiet would keep its old jobs forever; this task enforces the ages.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ailawyer.config import Settings
from ailawyer.jobs.bullmq_adapter import clean_state
from ailawyer.jobs.catalog import SYSTEM
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.jobs.queues import JobQueues

log = get_logger(__name__)

RETENTION_SCHEDULER_ID = "retention-cleanup"
RECOVERY_SCHEDULER_ID = "dokumente-recovery"


async def clean_finished_jobs(
    queues: JobQueues, *, completed_seconds: int, failed_seconds: int
) -> dict[str, int]:
    """Remove completed and failed jobs older than the ages from every queue; counts per queue."""
    removed: dict[str, int] = {}
    now_ms = round(time.time() * 1000)
    for name in await queues.discover():
        queue = queues.queue(name)
        count = 0
        for state, age_seconds in (("completed", completed_seconds), ("failed", failed_seconds)):
            count += await clean_state(queue, state, now_ms - age_seconds * 1000)
        if count:
            removed[name] = count
    log.info("retention cleanup done", removed=removed)
    return removed


async def schedule_retention_cleanup(queues: JobQueues, settings: Settings) -> None:
    """Make sure the cleanup runs every interval; idempotent, every worker calls it at start."""
    payload = SystemTaskPayload(task="retention-cleanup")
    # Upsert keeps one scheduler however many workers start; bullmq creates each next run.
    await queues.queue(SYSTEM.name).upsertJobScheduler(
        RETENTION_SCHEDULER_ID,
        {"every": round(settings.job_cleanup_interval_seconds * 1000)},
        RETENTION_SCHEDULER_ID,
        payload.to_job_data(),
        {"attempts": 1},
    )


async def schedule_dokumente_recovery(queues: JobQueues, settings: Settings) -> None:
    """Look for Dokumente whose job is gone (ailawyer.dokumente.recovery) every interval."""
    payload = SystemTaskPayload(task="dokumente-recovery")
    await queues.queue(SYSTEM.name).upsertJobScheduler(
        RECOVERY_SCHEDULER_ID,
        {"every": round(settings.job_cleanup_interval_seconds * 1000)},
        RECOVERY_SCHEDULER_ID,
        payload.to_job_data(),
        {"attempts": 1},
    )
