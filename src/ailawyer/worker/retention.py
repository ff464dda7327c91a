"""The retention cleanup: how long what is kept, enforced by one scheduled task.

- Finished jobs: the runtime settings for completed and failed jobs. bullmq removes old
  jobs only when a later job of the same queue finishes, so a queue that goes quiet would
  keep its old jobs for ever.
- Log files of ended processes: LOG_RETENTION_DAYS after their last line
  (`ailawyer.worker.log_retention`).
- Notifications: a runtime setting (default 180 days); dismissed ones a shorter time after
  they were dismissed (default 30 days).
- The audit log: kept, unless an operator gives it an age (a runtime setting).

Each run logs what it removed. Rows go in batches, each its own transaction, so a first
run on years of rows holds no long lock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import utcnow
from ailawyer.domain.audit import delete_audit_entries_before
from ailawyer.jobs.bullmq_adapter import clean_state
from ailawyer.logs import get_logger
from ailawyer.notifications.service import delete_old_notifications
from ailawyer.runtime_settings.definitions import (
    AUDIT_RETENTION_DAYS,
    JOB_RETENTION_COMPLETED_SECONDS,
    JOB_RETENTION_FAILED_SECONDS,
    NOTIFICATION_DISMISSED_RETENTION_DAYS,
    NOTIFICATION_RETENTION_DAYS,
)
from ailawyer.worker.log_retention import delete_ended_process_logs, running_processes

if TYPE_CHECKING:
    from ailawyer.db.session import Database
    from ailawyer.jobs.queues import JobQueues
    from ailawyer.services import Services

log = get_logger(__name__)

# Rows deleted per transaction.
BATCH = 5000


@dataclass(frozen=True)
class RetentionResult:
    """What one run removed: jobs per queue, log files (and their bytes), rows."""

    jobs: dict[str, int]
    log_files: int
    log_bytes: int
    notifications: int
    audit_entries: int

    def summary(self) -> str:
        """The figures in German, for the job's log in the explorer."""
        return (
            f"Entfernt: {sum(self.jobs.values())} beendete Vorgänge, "
            f"{self.log_files} Protokolldateien beendeter Prozesse "
            f"({self.log_bytes / 1_000_000:.1f} MB), {self.notifications} Benachrichtigungen, "
            f"{self.audit_entries} Einträge im Protokoll der Verwaltung"
        )

    def figures(self) -> dict[str, Any]:
        """The figures for the log line and the job's result."""
        return {
            "jobsRemoved": self.jobs,
            "logFilesDeleted": self.log_files,
            "logBytesDeleted": self.log_bytes,
            "notificationsDeleted": self.notifications,
            "auditEntriesDeleted": self.audit_entries,
        }


async def run_retention(services: Services) -> RetentionResult:
    """Remove everything older than its retention; logs and returns the figures."""
    runtime = services.runtime_settings
    jobs = await clean_finished_jobs(
        services.jobs,
        completed_seconds=runtime.get(JOB_RETENTION_COMPLETED_SECONDS),
        failed_seconds=runtime.get(JOB_RETENTION_FAILED_SECONDS),
    )
    logs = await delete_ended_process_logs(
        services.settings.effective_log_dir,
        retention_days=services.settings.log_retention_days,
        running=await running_processes(services),
    )
    now = utcnow()
    created_before = now - timedelta(days=runtime.get(NOTIFICATION_RETENTION_DAYS))
    dismissed_before = now - timedelta(days=runtime.get(NOTIFICATION_DISMISSED_RETENTION_DAYS))
    notifications = await _in_batches(
        services.db,
        lambda session: delete_old_notifications(
            session, created_before=created_before, dismissed_before=dismissed_before, limit=BATCH
        ),
    )
    audit_entries = 0
    if audit_days := runtime.get(AUDIT_RETENTION_DAYS):
        before = now - timedelta(days=audit_days)
        audit_entries = await _in_batches(
            services.db, lambda session: delete_audit_entries_before(session, before, BATCH)
        )
    result = RetentionResult(jobs, logs.files, logs.bytes, notifications, audit_entries)
    log.info("retention cleanup done", **result.figures())
    return result


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
    return removed


async def _in_batches(db: Database, delete_batch: Callable[[AsyncSession], Awaitable[int]]) -> int:
    total = 0
    while True:
        async with db.session() as session:
            count = await delete_batch(session)
            await session.commit()
        total += count
        if count < BATCH:
            return total
