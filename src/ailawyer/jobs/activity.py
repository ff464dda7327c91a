"""Live job changes for the job explorer, and the metrics that come with them.

Fed synchronously by the worker's bullmq listeners (a job became active, completed or
failed), by `JobQueues.enqueue`, by job progress and by the explorer's own actions.
Those calls only note the change in memory: bullmq runs its listeners inside its job
bookkeeping, where nothing may block or raise (docs/ARCHITECTURE.md, bullmq pitfalls).

A flush, at most every FLUSH_INTERVAL_SECONDS per process, then
- adds the collected metrics to Redis in one pipeline (`ailawyer.jobs.metrics`), and
- sends one `jobs:update` per changed queue to the operator's explorer room: the queue's
  counts (read fresh, O(1)), its pause flag, and up to MAX_JOBS_PER_UPDATE changed job ids;
- and one per changed queue and Kanzlei to that Kanzlei's room, naming only its own jobs
  and without counts: the queue's counts are every Kanzlei's, and a Kanzlei's own would
  cost a scan of the queue per flush. Its page fetches them (`/admin/jobs/counts`, cached).

So a queue finishing a thousand jobs a second costs the explorer two events a second
per process and room, not a thousand. Delivery is best effort like every Socket.IO
event: the page fetches the counts again after each reconnect.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bullmq import Job

from ailawyer.jobs.bullmq_adapter import QueueCounts, read_counts
from ailawyer.jobs.metrics import MetricsBuffer
from ailawyer.logs import get_logger
from ailawyer.realtime import events
from ailawyer.realtime.emitter import Emitter

if TYPE_CHECKING:
    from ailawyer.jobs.queues import JobQueues

log = get_logger(__name__)

FLUSH_INTERVAL_SECONDS = 0.5
# Job ids named per update and queue; beyond that the update says "more".
MAX_JOBS_PER_UPDATE = 50


@dataclass
class QueueChanges:
    """Jobs of one queue that changed since the last flush (bounded)."""

    jobs: dict[str, str | None] = field(default_factory=dict)
    more: bool = False

    def add(self, job_id: str | None, state: str | None) -> None:
        if job_id is None:
            return
        if job_id in self.jobs or len(self.jobs) < MAX_JOBS_PER_UPDATE:
            self.jobs[job_id] = state
        else:
            self.more = True

    def to_json(self) -> dict[str, Any]:
        return {
            "jobs": [{"id": job_id, "state": state} for job_id, state in self.jobs.items()],
            "more": self.more,
        }


class JobActivity:
    """Collects job changes and metrics of one process and flushes them now and then."""

    def __init__(
        self,
        jobs: JobQueues,
        emitter: Emitter,
        *,
        metrics_prefix: str,
        interval: float = FLUSH_INTERVAL_SECONDS,
    ) -> None:
        self.jobs = jobs
        self.emitter = emitter
        self.metrics_prefix = metrics_prefix
        self.interval = interval
        # Per (queue, Kanzlei): None collects every change (the operator's room).
        self._changes: dict[tuple[str, int | None], QueueChanges] = {}
        self._metrics = MetricsBuffer()
        self._task: asyncio.Task[None] | None = None
        self._last_flush = 0.0

    # --- called from listeners: synchronous, cheap, never raising ---------------------

    def changed(
        self,
        queue: str,
        job_id: str | None = None,
        state: str | None = None,
        kanzlei_id: int | None = None,
    ) -> None:
        """Note that `queue` changed (a job, if given, now in `state` if known), for the
        operator's explorer and, for a change to Kanzlei `kanzlei_id`'s jobs, its ADMINs'."""
        try:
            rooms = (None,) if kanzlei_id is None else (None, kanzlei_id)
            for room in rooms:
                # Not setdefault: its default would be built on every call (every job).
                change = self._changes.get((queue, room))
                if change is None:
                    change = self._changes[(queue, room)] = QueueChanges()
                change.add(job_id, state)
            self._schedule()
        except Exception:
            log.exception("job change not noted", queue=queue)

    def started(self, queue: str, job: Job, kanzlei_id: int | None = None) -> None:
        """A worker took `job`; its first attempt gives a wait-time sample."""
        try:
            if job.attemptsMade == 0 and job.processedOn:
                # Due at creation plus its delay; a retry's wait includes the backoff we
                # chose, so it says nothing about the queue and is not sampled.
                waited = job.processedOn - (job.timestamp + (job.delay or 0))
                self._metrics.sample(queue, "wait", job.processedOn / 1000, waited, kanzlei_id)
        except Exception:
            log.exception("wait time not sampled", queue=queue)
        self.changed(queue, str(job.id), "active", kanzlei_id)

    def finished(
        self, queue: str, job: Job, state: str | None, kanzlei_id: int | None = None
    ) -> None:
        """An attempt of `job` ended: "completed", "failed" (for good), or None (retry)."""
        now = time.time()
        try:
            if job.processedOn:
                run_ms = now * 1000 - job.processedOn
                self._metrics.sample(queue, "run", now, run_ms, kanzlei_id)
            if state is not None:
                self._metrics.count(queue, state, now, kanzlei_id)
        except Exception:
            log.exception("job metrics not sampled", queue=queue)
        self.changed(queue, str(job.id), state, kanzlei_id)

    # --- flushing ---------------------------------------------------------------------

    def _schedule(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: nobody to flush for
            return
        delay = max(0.0, self._last_flush + self.interval - time.monotonic())
        self._task = loop.create_task(self._flush_after(delay), name="job-activity")

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._last_flush = time.monotonic()
        await self.flush()
        # Changes noted while this flush awaited Redis found the task still running.
        self._task = None
        if self._changes or self._metrics:
            self._schedule()

    async def flush(self) -> None:
        """Write the metrics and send the updates collected so far; never raises."""
        changes, self._changes = self._changes, {}
        metrics, self._metrics = self._metrics, MetricsBuffer()
        if metrics:
            try:
                async with self.jobs.redis.pipeline(transaction=False) as pipe:
                    metrics.write(pipe, self.metrics_prefix)
                    await pipe.execute()
            except Exception as error:
                log.warning("job metrics not stored", error=repr(error))
        counts: dict[str, QueueCounts] = {}
        for (queue, kanzlei_id), change in changes.items():
            try:
                if queue not in counts:
                    counts[queue] = await read_counts(self.jobs.queue(queue))
                if kanzlei_id is None:
                    update = {"queue": queue, **counts[queue].to_json(), **change.to_json()}
                else:
                    update = {"queue": queue, "paused": counts[queue].paused, **change.to_json()}
                await self.emitter.to_job_explorer(kanzlei_id).emit(events.JOBS_UPDATE, update)
            except Exception as error:
                log.warning("job update not sent", queue=queue, error=repr(error))

    async def close(self) -> None:
        """Stop the pending flush and flush what is left (at process shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        await self.flush()
