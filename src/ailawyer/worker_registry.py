"""Worker heartbeats in Redis: written by every worker, read by health and the admin pages."""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis


class WorkerRegistry:
    """A sorted set of worker ids by last heartbeat, plus one expiring JSON record per worker."""

    def __init__(self, redis: Redis, *, prefix: str, interval_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.interval_seconds = interval_seconds

    @property
    def _index(self) -> str:
        return f"{self.prefix}:workers"

    def _record(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    @property
    def stale_after_seconds(self) -> float:
        # Three missed beats: one slow beat under load must not declare a worker dead.
        return self.interval_seconds * 3

    async def beat(self, worker_id: str, info: dict[str, Any]) -> None:
        """Record that `worker_id` is alive now, with its host, pid, queues and concurrency."""
        now = time.time()
        record = json.dumps({**info, "id": worker_id, "lastSeen": now})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._record(worker_id), record, px=int(self.stale_after_seconds * 1000))
            pipe.zadd(self._index, {worker_id: now})
            pipe.zremrangebyscore(self._index, 0, now - 24 * 3600)
            await pipe.execute()

    async def remove(self, worker_id: str) -> None:
        """Forget a worker at clean shutdown, so it is not shown as alive until its TTL ends."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._record(worker_id))
            pipe.zrem(self._index, worker_id)
            await pipe.execute()

    async def alive(self) -> list[dict[str, Any]]:
        """Records of the workers that sent a heartbeat recently, newest first."""
        since = time.time() - self.stale_after_seconds
        ids = await self.redis.zrevrangebyscore(self._index, "+inf", since)
        if not ids:
            return []
        records = await self.redis.mget([self._record(worker_id) for worker_id in ids])
        return [json.loads(record) for record in records if record]
