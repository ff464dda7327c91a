"""bullmq's Worker, taking its next job from the script that completes the last one, as
Node's BullMQ does (docs/ARCHITECTURE.md, bullmq pitfalls).

bullmq's Python Worker completes a job with `moveToFinished` and `fetch_next=False`, then
asks `moveToActive` for the next one: two script calls per job. The Lua script can do
both in one call (its `fetchNext` argument, which Node's worker sets); this class sets it
and processes the job the script returns. Written against bullmq 3.4.4 so it could go
upstream as it is; `tests/integration/test_worker_fetch_next.py` fails when a bullmq
upgrade changes what it relies on.

What stays as in bullmq (and in Node's `Worker.handleCompleted`):
- The next job is asked for only while the worker is neither closing nor paused, and only
  while its tasks, this one included, stay within the concurrency: the next job takes the
  finished job's place.
- The script locks the next job with the finished job's token; the job is announced with
  "active" like one the worker fetched itself and is tracked by the lock renewal from
  the moment it runs.
- The same task processes it, so the task stays in `Worker.processing`: pause and close
  wait for it, and a job fetched just before a close began is run, not dropped.
- A failed job fetches nothing: failing takes one of several scripts (retry, delay, fail),
  and failures are the rare case.
"""

from __future__ import annotations

import time
from typing import Any

from bullmq import Job, Worker
from bullmq.custom_errors import DelayedError, UnrecoverableError, WaitingChildrenError


class FetchNextWorker(Worker):
    """A bullmq Worker that makes one script call per job in steady state instead of two."""

    async def processJob(self, job: Job, token: str) -> None:
        """Process `job`, then every job the completing script hands back, in this task."""
        current: Job | None = job
        while current is not None:
            current = await self._process_one(current, token)

    def _may_fetch_next(self) -> bool:
        # This task is in `processing`: its next job keeps the count where it is.
        return (
            not self.closing
            and not self.paused
            and len(self.processing) <= self.opts.get("concurrency", 1)
        )

    async def _process_one(self, job: Job, token: str) -> Job | None:
        """bullmq 3.4.4's `Worker.processJob`, completing with `fetch_next` when allowed.

        Returns the next job, already active and locked with `token`, or None.
        """
        fetched: list[Any] | None = None
        try:
            if "removeOnComplete" not in job.opts and "removeOnComplete" in self.opts:
                job.opts["removeOnComplete"] = self.opts["removeOnComplete"]
            if "removeOnFail" not in job.opts and "removeOnFail" in self.opts:
                job.opts["removeOnFail"] = self.opts["removeOnFail"]

            self.jobs.add((job, token))
            controller = self.lockManager.track_job(
                job.id,
                token,
                int(time.time() * 1000),
                should_create_controller=self._processor_wants_signal,
            )

            if job.deferredFailure:
                await job.moveToFailed(UnrecoverableError(job.deferredFailure), token)
                self.emit("failed", job, UnrecoverableError(job.deferredFailure))
                return None

            if controller is not None:
                result = await self.processor(job, token, controller.signal)
            else:
                result = await self.processor(job, token)
            if not self.forceClosing:
                fetch_next = self._may_fetch_next()
                moved = await self.backend.moveToCompleted(
                    job,
                    result,
                    job.opts.get("removeOnComplete", False),
                    token,
                    fetch_next=fetch_next,
                )
                if fetch_next:
                    fetched = moved["result"]
                job.returnvalue = result
                job.attemptsMade = job.attemptsMade + 1
            self.emit("completed", job, result)
        except (DelayedError, WaitingChildrenError):
            return None
        except Exception as err:
            try:
                if not self.forceClosing:
                    await job.moveToFailed(err, token)
                self.emit("failed", job, err)
            except Exception as err:
                self.emit("error", err, job)
        finally:
            self.jobs.discard((job, token))
            self.lockManager.untrack_job(job.id)
        return await self._next_job(fetched, token)

    async def _next_job(self, fetched: list[Any] | None, token: str) -> Job | None:
        """The job the completing script moved to active, if any (after updating the
        worker's drained and delay state from its answer, as `moveToActive` does)."""
        if fetched is None:
            return None
        job_data, job_id, limit_until, delay_until = fetched
        next_job = await self.nextJobFromJobData(
            job_data, job_id, limit_until or 0, delay_until or 0, token
        )
        if next_job is not None:
            self.emit("active", next_job, "waiting")
        return next_job
