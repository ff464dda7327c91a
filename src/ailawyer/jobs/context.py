"""What a processor gets besides its payload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bullmq import Job
from redis.exceptions import RedisError

from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger("ailawyer.jobs")


@dataclass
class JobContext:
    """The running job, the process's services, and best-effort progress and job log lines."""

    job: Job
    queue: str
    services: Services

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

    async def progress(self, value: int | dict[str, Any]) -> None:
        """Report progress (percent, or a dict); lost if Redis is away, the job goes on."""
        try:
            await self.job.updateProgress(value)
        except RedisError as error:
            log.warning("job progress not stored", error=str(error))

    async def log(self, line: str) -> None:
        """Append a line to the job's log (shown in the job explorer); best effort too."""
        try:
            await self.job.log(line)
        except RedisError as error:
            log.warning("job log line not stored", error=str(error))
