"""The keys of the runtime settings, importable from anywhere without import cycles.

Each key is declared with its type, label and default in `definitions`.
"""

from __future__ import annotations

LOG_LEVEL = "log.level"
JOB_RETENTION_COMPLETED_SECONDS = "jobs.retention.completed_seconds"
JOB_RETENTION_FAILED_SECONDS = "jobs.retention.failed_seconds"
MAINTENANCE_BANNER = "ui.maintenance_banner"
UPLOAD_FILES_PER_HOUR = "uploads.rate.files_per_hour"
UPLOAD_MB_PER_HOUR = "uploads.rate.mb_per_hour"
UPLOAD_KANZLEI_QUOTA_MB = "uploads.quota.kanzlei_mb"


def job_concurrency(queue_name: str) -> str:
    """The key of a queue's concurrency per worker process."""
    return f"jobs.concurrency.{queue_name}"
