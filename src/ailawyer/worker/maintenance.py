"""The schedules of the maintenance tasks (`ailawyer.worker.retention`, Dokumente recovery)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ailawyer.config import Settings
from ailawyer.jobs.catalog import SYSTEM
from ailawyer.jobs.payloads import SystemTaskPayload

if TYPE_CHECKING:
    from ailawyer.jobs.queues import JobQueues

RETENTION_SCHEDULER_ID = "retention-cleanup"
RECOVERY_SCHEDULER_ID = "dokumente-recovery"


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
