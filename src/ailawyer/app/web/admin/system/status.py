"""What the admin system page shows besides `/api/health`: queue backlogs and processes.

Read-only and framework-free. Redis memory and durability and free disk come from
`ailawyer.system_facts` (the alerts read them too); waiting jobs from the bullmq adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from ailawyer.jobs.bullmq_adapter import read_waiting
from ailawyer.system_facts import Status

# A job still waiting after this long means the workers do not keep up (or none runs).
BACKLOG_WARNING_SECONDS = 5 * 60


@dataclass(frozen=True)
class QueueBacklog:
    """How many jobs of a queue wait, and since when the longest-waiting one does."""

    queue: str
    waiting: int
    oldest_waiting_since: float | None  # epoch seconds

    def age_seconds(self, now: float) -> float | None:
        """How long the longest-waiting job has waited at `now`."""
        if self.oldest_waiting_since is None:
            return None
        return max(0.0, now - self.oldest_waiting_since)

    def status(self, now: float) -> Status:
        age = self.age_seconds(now)
        return "degraded" if age is not None and age > BACKLOG_WARNING_SECONDS else "up"


async def read_queue_backlogs(
    redis: Redis, bull_prefix: str, queues: Iterable[str]
) -> list[QueueBacklog]:
    """Waiting jobs per queue and since when the longest-waiting one waits (read-only)."""
    names = list(queues)
    waits = await asyncio.gather(*(read_waiting(redis, bull_prefix, name) for name in names))
    return [
        QueueBacklog(queue=name, waiting=wait.count, oldest_waiting_since=wait.oldest_since)
        for name, wait in zip(names, waits, strict=True)
    ]


@dataclass(frozen=True)
class ProcessInfo:
    """One running app or worker process, from its heartbeat."""

    kind: str
    id: str
    host: str | None
    pid: int | None
    version: str | None
    python: str | None
    started_at: float | None
    last_seen: float | None
    # Workers: queue name -> {"concurrency", "active"}; empty for app processes.
    queues: Mapping[str, Any]

    def uptime_seconds(self, now: float) -> float | None:
        return None if self.started_at is None else max(0.0, now - self.started_at)

    @property
    def started(self) -> datetime | None:
        return None if self.started_at is None else datetime.fromtimestamp(self.started_at, UTC)


def process_list(*heartbeats: Iterable[Mapping[str, Any]]) -> list[ProcessInfo]:
    """Heartbeat records as rows: apps before workers, then by host and start time."""
    rows = [
        ProcessInfo(
            kind=str(record.get("kind", "")),
            id=str(record.get("id", "")),
            host=record.get("host"),
            pid=record.get("pid"),
            version=record.get("version"),
            python=record.get("python"),
            started_at=record.get("startedAt"),
            last_seen=record.get("lastSeen"),
            queues=record.get("queues") or {},
        )
        for records in heartbeats
        for record in records
    ]
    return sorted(rows, key=lambda row: (row.kind != "app", row.host or "", row.started_at or 0))
