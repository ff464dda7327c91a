"""The bullmq Workers of one worker process: one per bound queue, run and stopped together.

Invariants:
- Every processor call runs with a fresh log context (jobId, queue, attempt, userId,
  akteId) that is cleared before and after the job.
- Event listeners are tiny and never raise: bullmq calls them synchronously inside its
  job bookkeeping, and an exception there turns a finished job into "Missing lock"
  errors (docs/ARCHITECTURE.md, bullmq pitfalls). Work they start runs in tracked background tasks.
- Graceful stop pauses the workers first and waits for the jobs in flight; only then is
  `Worker.close()` called. `close()` stops bullmq's lock renewal at once, even while jobs
  still run, so a long job would lose its lock, look stalled and run a second time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bullmq import Job, Worker
from bullmq.custom_errors import UnrecoverableError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailawyer.jobs.access import job_owner
from ailawyer.jobs.bullmq_adapter import give_blocking_connection
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.errors import InvalidPayloadError
from ailawyer.jobs.fetch_next_worker import FetchNextWorker
from ailawyer.jobs.options import retention_options, worker_options
from ailawyer.jobs.payloads import JobPayload
from ailawyer.logs import bind_context, clear_context, get_logger
from ailawyer.redis_client import create_redis
from ailawyer.runtime_settings.definitions import (
    JOB_RETENTION_COMPLETED_SECONDS,
    JOB_RETENTION_FAILED_SECONDS,
    job_concurrency,
)
from ailawyer.worker.bindings import BINDINGS, QueueBinding
from ailawyer.worker.failures import handle_final_failure

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger("ailawyer.worker")

# How often a stopping worker looks whether its jobs are done.
DRAIN_POLL_SECONDS = 0.05

Listener = Callable[..., None]


def guarded(listener: Listener) -> Listener:
    """Wrap a bullmq event listener so that nothing it raises reaches bullmq."""

    def call(*args: Any) -> None:
        try:
            listener(*args)
        except Exception:
            log.exception("worker event listener failed", listener=listener.__name__)

    call.__name__ = listener.__name__
    return call


@dataclass
class QueueRunner:
    """One bullmq Worker, its own Redis clients (commands, and the wait for jobs) and the
    task running it."""

    binding: QueueBinding[Any]
    worker: Worker
    client: Redis
    blocking: Redis
    task: asyncio.Task[None] | None = None

    def busy(self) -> bool:
        """Whether a job (or the fetch of one) is still in progress."""
        return any(not task.done() for task in self.worker.processing)


@dataclass
class WorkerPool:
    """Runs every declared queue in this process; concurrency per queue is a runtime setting."""

    services: Services
    worker_id: str
    bindings: Mapping[str, QueueBinding[Any]] = field(default_factory=lambda: BINDINGS)
    runners: list[QueueRunner] = field(default_factory=list)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    started_at: float = field(default_factory=time.time)

    async def start(self) -> None:
        """Create and run a Worker per queue; each follows its concurrency setting live."""
        runtime = self.services.runtime_settings
        retention = self._retention()
        for binding in self.bindings.values():
            # Its own client: a worker holds one connection in a blocking BZPOPMIN, and
            # bullmq closes the client it was given when the worker closes.
            client = create_redis(self.services.settings.redis_url or "")
            options = worker_options(
                self.services.settings,
                connection=client,
                concurrency=runtime.get(job_concurrency(binding.name)),
                worker_name=self.worker_id,
                retention=retention,
            )
            # Takes its next job from the call that completes the last one, as Node's does.
            worker = FetchNextWorker(binding.name, self._processor(binding), options)
            # It waits for jobs on a connection of its own, named so that Node's BullMQ and
            # Bull Board count it as a worker of the queue.
            blocking = create_redis(self.services.settings.redis_url or "")
            give_blocking_connection(worker, blocking)
            runner = QueueRunner(binding, worker, client, blocking)
            self._listen(runner)
            runner.task = asyncio.create_task(self._run(runner), name=f"worker:{binding.name}")
            self.runners.append(runner)
            await runtime.watch(job_concurrency(binding.name), self._concurrency(runner))
        await runtime.watch(JOB_RETENTION_COMPLETED_SECONDS, self._apply_retention)
        await runtime.watch(JOB_RETENTION_FAILED_SECONDS, self._apply_retention)
        log.info("workers started", queues=self.queue_info())

    def queue_info(self) -> dict[str, dict[str, int]]:
        """Per queue: concurrency and running jobs (for heartbeats and the admin page)."""
        return {
            runner.binding.name: {
                "concurrency": int(runner.worker.opts["concurrency"]),
                "active": len(runner.worker.jobs),
            }
            for runner in self.runners
        }

    def heartbeat_info(self) -> dict[str, Any]:
        """What this worker adds to its heartbeat (the registry adds host, pid and version)."""
        return {"startedAt": self.started_at, "queues": self.queue_info()}

    async def stop(self, grace_seconds: float, force: asyncio.Event) -> bool:
        """Stop taking jobs, let running ones finish within the grace period, then close.

        A job still running when the grace period ends (or `force` is set) is cancelled
        without being marked failed: its lock expires and stalled-job recovery runs it
        again. Returns True if every job finished in time.
        """
        deadline = time.monotonic() + grace_seconds
        for runner in self.runners:
            await runner.worker.pause(do_not_wait_active=True)
        while any(r.busy() for r in self.runners) or self._background:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or force.is_set():
                break
            await asyncio.sleep(min(DRAIN_POLL_SECONDS, remaining))
        finished = not any(r.busy() for r in self.runners)
        if not finished:
            left = {r.binding.name: [str(j.id) for j, _ in r.worker.jobs] for r in self.runners}
            log.warning("jobs left for stalled-job recovery", jobs=left)
        await asyncio.gather(
            *(runner.worker.close(force=not finished) for runner in self.runners),
            return_exceptions=True,
        )
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(
            *(r.task for r in self.runners if r.task), *self._background, return_exceptions=True
        )
        for runner in self.runners:
            await runner.client.aclose()
            await runner.blocking.aclose()
        return finished

    # --- internals ---------------------------------------------------------------

    async def _run(self, runner: QueueRunner) -> None:
        """Run the Worker; wait for Redis first if it is not there yet.

        bullmq retries every Redis call of a running Worker, but not the first one in
        `Worker.run()`: started while Redis is away, the Worker would end at once.
        """
        worker = runner.worker
        while not worker.closing:
            try:
                await _read_redis_capabilities(worker)
                await worker.run()
                return
            except (RedisError, OSError) as error:
                log.warning("worker waits for Redis", queue=runner.binding.name, error=str(error))
                await asyncio.sleep(self.services.settings.worker_reconnect_seconds)

    def _retention(self) -> dict[str, Any]:
        runtime = self.services.runtime_settings
        return retention_options(
            runtime.get(JOB_RETENTION_COMPLETED_SECONDS),
            runtime.get(JOB_RETENTION_FAILED_SECONDS),
        )

    def _apply_retention(self, _value: int) -> None:
        retention = self._retention()
        for runner in self.runners:
            runner.worker.opts.update(retention)

    @staticmethod
    def _concurrency(runner: QueueRunner) -> Callable[[int], None]:
        def apply(value: int) -> None:
            # bullmq reads opts["concurrency"] each time it decides whether to fetch a job;
            # a higher value takes effect when its idle wait ends (at most its drainDelay).
            runner.worker.opts["concurrency"] = value
            log.info("queue concurrency set", queue=runner.binding.name, concurrency=value)

        return apply

    def _processor(self, binding: QueueBinding[Any]) -> Callable[[Job, str], Awaitable[Any]]:
        definition = binding.definition

        async def process(job: Job, _token: str) -> Any:
            clear_context()
            ctx = _context(job, definition.name, self.services)
            bind_context(job_id=ctx.job_id, queue=definition.name, attempt=ctx.attempt)
            payload: JobPayload | None = None
            started = time.monotonic()
            try:
                try:
                    payload = definition.validate_payload(job.data)
                except InvalidPayloadError as error:
                    raise UnrecoverableError(str(error)) from error
                bind_context(user_id=payload.user_id, akte_id=payload.akte_id)
                # DEBUG, like Dramatiq's: at ~50 µs a line, two INFO lines per job cost more
                # than our whole wrapper may (bench/RESULTS.md, issue 15). Every run is kept
                # in the explorer and the job metrics; failures log at WARNING and ERROR.
                log.debug("job started", attemptsStarted=job.attemptsStarted)
                result = await binding.processor(ctx, payload)
                log.debug("job completed", durationMs=_ms_since(started))
                return result
            except Exception as error:
                # bullmq's own rule (Job.moveToFailed): no retry after the last attempt or
                # for an UnrecoverableError.
                final = isinstance(error, UnrecoverableError) or ctx.is_last_attempt
                summary = f"{type(error).__name__}: {error}"
                if final:
                    log.error("job failed for good", durationMs=_ms_since(started), exc_info=True)
                    await handle_final_failure(binding, ctx, payload, summary)
                else:
                    log.warning("job attempt failed; retrying later", error=summary)
                raise
            finally:
                clear_context()

        return process

    def _listen(self, runner: QueueRunner) -> None:
        name = runner.binding.name
        activity = self.services.job_activity

        # Each job's events reach the explorer of its Kanzlei too (jobs/activity.py).
        def on_active(job: Job, _previous: str) -> None:
            activity.started(name, job, job_owner(name, job.data).kanzlei_id)

        def on_completed(job: Job, _result: Any) -> None:
            activity.finished(name, job, "completed", job_owner(name, job.data).kanzlei_id)

        def on_failed(job: Job, error: Exception) -> None:
            # bullmq sets finishedOn only when the job moved to failed for good; an
            # attempt that will be retried went to delayed (or waiting) instead.
            state = "failed" if job.finishedOn else None
            activity.finished(name, job, state, job_owner(name, job.data).kanzlei_id)
            # A job that stalled more often than allowed is failed by bullmq itself,
            # without calling the processor: its failure handling starts here.
            if job.deferredFailure:
                self._spawn(self._deferred_failure(runner.binding, job, error))

        def on_error(error: Exception, *_job: Any) -> None:
            log.warning("worker error", queue=name, error=repr(error))

        def on_stalled(job_id: str) -> None:
            log.warning("stalled job moved back to waiting", queue=name, jobId=job_id)

        runner.worker.on("active", guarded(on_active))
        runner.worker.on("completed", guarded(on_completed))
        runner.worker.on("failed", guarded(on_failed))
        runner.worker.on("error", guarded(on_error))
        runner.worker.on("stalled", guarded(on_stalled))

    async def _deferred_failure(
        self, binding: QueueBinding[Any], job: Job, error: Exception
    ) -> None:
        clear_context()
        ctx = _context(job, binding.name, self.services)
        bind_context(job_id=ctx.job_id, queue=binding.name)
        try:
            payload: JobPayload | None = binding.definition.validate_payload(job.data)
        except InvalidPayloadError:
            payload = None
        summary = f"{type(error).__name__}: {error}"
        log.error("job failed for good after stalling too often", error=summary)
        try:
            await handle_final_failure(binding, ctx, payload, summary)
        finally:
            clear_context()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _context(job: Job, queue: str, services: Services) -> JobContext:
    kanzlei_id = job_owner(queue, job.data).kanzlei_id
    return JobContext(job=job, queue=queue, services=services, kanzlei_id=kanzlei_id)


async def _read_redis_capabilities(worker: Worker) -> None:
    """Let bullmq know the Redis version before it blocks for jobs.

    Its Worker never asks by itself and then assumes a Redis that only blocks for whole
    seconds: every wait for a delayed job (a retry after backoff) is rounded up and runs
    up to a second late. Reading the version also warns when eviction is not `noeviction`.
    """
    await worker.blockingRedisConnection.getRedisVersion()


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
