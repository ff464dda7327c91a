"""What a processor gets besides its payload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bullmq import Job
from redis.exceptions import RedisError

from ailawyer.jobs.log_lines import stamped
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger("ailawyer.jobs")


def retry_path(queue_name: str, job_id: str) -> str:
    """The URL of the retry API for one job (notifications put it on their button)."""
    return f"/api/jobs/{queue_name}/{job_id}/retry"


@dataclass
class JobContext:
    """The running job, the process's services, and best-effort progress and job log lines."""

    job: Job
    queue: str
    services: Services
    # The Kanzlei the job belongs to (`ailawyer.jobs.access.job_owner`), for its live updates.
    kanzlei_id: int | None = None

    @property
    def job_id(self) -> str:
        return str(self.job.id)

    @property
    def attempt(self) -> int:
        """1 for the first run; a run after a stall keeps the number of the run it repeats."""
        return self.job.attemptsMade + 1

    @property
    def max_attempts(self) -> int:
        return int(self.job.opts.get("attempts") or 1)

    @property
    def is_last_attempt(self) -> bool:
        """Whether bullmq retries no failure of this run, whatever the error (its own rule in
        `Job.moveToFailed`; an UnrecoverableError is never retried either)."""
        return self.attempt >= self.max_attempts

    @property
    def retry_path(self) -> str:
        return retry_path(self.queue, self.job_id)

    async def progress(self, value: int | dict[str, Any]) -> None:
        """Report progress (percent, or a dict); lost if Redis is away, the job goes on."""
        try:
            await self.job.updateProgress(value)
        except RedisError as error:
            log.warning("job progress not stored", error=str(error))
        # The explorer's job page shows the bar; updates are coalesced per flush interval.
        self.services.job_activity.changed(self.queue, self.job_id, "active", self.kanzlei_id)

    async def log(self, line: str) -> None:
        """Append a line to the job's log (shown in the job explorer); best effort too.

        bullmq stores bare strings, so each line starts with its time (jobs/log_lines.py).
        """
        try:
            await self.job.log(stamped(line, datetime.now(UTC)))
        except RedisError as error:
            log.warning("job log line not stored", error=str(error))
