"""Enqueue and look up jobs: the bullmq Queue of every queue, on the process's Redis client."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bullmq import Job, Queue
from pydantic import BaseModel
from redis.asyncio import Redis

from ailawyer.config import Settings
from ailawyer.jobs.bullmq_adapter import scan_queue_names
from ailawyer.jobs.catalog import QUEUES, QueueDefinition, get_queue_definition
from ailawyer.jobs.errors import InvalidPayloadError
from ailawyer.jobs.kanzlei_counts import KanzleiCounts
from ailawyer.jobs.options import bull_prefix, default_job_options
from ailawyer.logs import get_logger

log = get_logger(__name__)

# How long a scan for queues is reused by `JobQueues.known` (see there).
DISCOVER_SECONDS = 60.0


class JobQueues:
    """Every queue of this deployment, declared or only found in Redis.

    The Queue objects share the process's Redis client (made by `create_redis`, so with
    `socket_timeout=None`). They are never closed one by one: bullmq's `Queue.close()`
    would close that shared client; it is closed once with the Services.
    """

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        definitions: Mapping[str, QueueDefinition[Any]] = QUEUES,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.definitions = definitions
        self.prefix = bull_prefix(settings)
        self._queues: dict[str, Queue] = {}
        self._discovered: tuple[float, list[str]] | None = None
        # Each Kanzlei's counts, for its ADMIN's explorer (a scan, reused for a few seconds).
        self.kanzlei_counts = KanzleiCounts(redis, self.queue)
        # Told (queue, job id, state, Kanzlei) after every enqueue; must not raise (the job
        # exists by then).
        self.enqueue_listeners: list[Callable[[str, str, str, int | None], None]] = []

    def queue(self, name: str) -> Queue:
        """The bullmq Queue `name` (declared or not; the explorer also shows undeclared ones)."""
        if name not in self._queues:
            self._queues[name] = Queue(name, {"connection": self.redis, "prefix": self.prefix})
        return self._queues[name]

    async def enqueue(
        self,
        queue_name: str,
        payload: BaseModel | Mapping[str, Any],
        *,
        job_id: str | None = None,
        delay_ms: int = 0,
    ) -> Job:
        """Add a job after checking `payload` against the queue's type; returns the job.

        A queue of Kanzlei jobs takes only payloads naming their Kanzlei, every other queue
        none: what the explorer shows a Kanzlei's ADMIN is decided by that field.
        """
        definition = get_queue_definition(queue_name, self.definitions)
        checked = definition.validate_payload(payload)
        if definition.kanzlei_jobs != (checked.kanzlei_id is not None):
            raise InvalidPayloadError(
                f"queue {queue_name!r} takes "
                + ("only jobs of a Kanzlei" if definition.kanzlei_jobs else "no Kanzlei's jobs")
            )
        data = checked.to_job_data()
        options: dict[str, Any] = default_job_options(self.settings)
        if job_id is not None:
            # bullmq ignores an add whose id exists: enqueueing the same id twice is safe.
            options["jobId"] = job_id
        if delay_ms:
            options["delay"] = delay_ms
        job = await self.queue(queue_name).add(definition.job_name, data, options)
        log.info("job enqueued", queue=queue_name, jobId=job.id, delayMs=delay_ms or None)
        for listener in self.enqueue_listeners:
            listener(
                queue_name, str(job.id), "delayed" if delay_ms else "waiting", checked.kanzlei_id
            )
        return job

    async def get_job(self, queue_name: str, job_id: str) -> Job | None:
        """The job `job_id` of `queue_name`, or None if it does not exist (any more)."""
        return await Job.fromId(self.queue(queue_name), job_id)

    async def discover(self) -> list[str]:
        """Names of the declared queues plus every queue found in Redis, sorted."""
        found = sorted(set(self.definitions) | await scan_queue_names(self.redis, self.prefix))
        self._discovered = (time.monotonic(), found)
        return found

    async def known(self, *, fresh: bool = False) -> list[str]:
        """`discover()`'s answer, scanned again only if `fresh` or older than DISCOVER_SECONDS.

        Pages that refresh every few seconds (explorer counts, system status) use this: the
        scan reads every key in Redis, a few hundred milliseconds once a queue holds
        100,000 jobs, and queues come and go rarely.
        """
        if (
            fresh
            or self._discovered is None
            or (time.monotonic() - self._discovered[0] > DISCOVER_SECONDS)
        ):
            return await self.discover()
        return self._discovered[1]
