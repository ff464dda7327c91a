"""What the admin system page shows besides `/api/health`: Redis, queue backlogs, disks, processes.

Read-only and framework-free. Each reader is bounded (a few Redis commands, one `statvfs`
per directory) so the page can be polled.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ailawyer.jobs.bullmq_adapter import read_waiting

Status = Literal["up", "degraded", "down"]

REQUIRED_EVICTION_POLICY = "noeviction"
# A job still waiting after this long means the workers do not keep up (or none runs).
BACKLOG_WARNING_SECONDS = 5 * 60
DISK_WARNING_FRACTION = 0.10
DISK_CRITICAL_FRACTION = 0.03


@dataclass(frozen=True)
class RedisFacts:
    """Memory use and durability settings; None where Redis would not say."""

    used_memory: int | None
    max_memory: int | None
    aof_enabled: bool | None
    eviction_policy: str | None
    version: str | None
    # "config" when CONFIG GET answered; "info" when it is disabled (managed Redis).
    source: Literal["config", "info"]

    @property
    def eviction_ok(self) -> bool | None:
        """Whether jobs are safe from eviction; None when the policy is unknown."""
        if self.eviction_policy is None:
            return None
        return self.eviction_policy == REQUIRED_EVICTION_POLICY

    @property
    def status(self) -> Status:
        """Yellow when Redis may drop or lose jobs (eviction, or no AOF)."""
        return "degraded" if self.eviction_ok is False or self.aof_enabled is False else "up"


async def read_redis_facts(redis: Redis) -> RedisFacts:
    """INFO, and CONFIG GET where the server allows it (it wins where both answer)."""
    info = await redis.info()  # the default sections: server, memory, persistence, ...
    aof: bool | None = _flag(info.get("aof_enabled"))
    policy: str | None = info.get("maxmemory_policy")
    source: Literal["config", "info"] = "info"
    try:
        config = await redis.config_get("appendonly")
        config.update(await redis.config_get("maxmemory-policy"))
    except ResponseError:
        # Managed Redis often renames or forbids CONFIG (an unknown command, or NOPERM
        # from an ACL); INFO says the same for current Redis versions.
        pass
    else:
        source = "config"
        if "appendonly" in config:
            aof = config["appendonly"] == "yes"
        policy = config.get("maxmemory-policy", policy)
    return RedisFacts(
        used_memory=_int(info.get("used_memory")),
        max_memory=_int(info.get("maxmemory")),
        aof_enabled=aof,
        eviction_policy=policy,
        version=info.get("redis_version"),
        source=source,
    )


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
class DiskFacts:
    """Free space of the file system holding one of our directories."""

    label: str
    path: Path
    free: int
    total: int

    @property
    def free_fraction(self) -> float:
        return self.free / self.total if self.total else 0.0

    @property
    def status(self) -> Status:
        if self.free_fraction < DISK_CRITICAL_FRACTION:
            return "down"
        return "degraded" if self.free_fraction < DISK_WARNING_FRACTION else "up"


def read_disks(directories: Mapping[str, Path]) -> list[DiskFacts]:
    """Free space for each labelled directory (of its nearest existing parent if not created)."""
    facts = []
    for label, directory in directories.items():
        existing = directory.resolve()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        usage = shutil.disk_usage(existing)
        facts.append(DiskFacts(label=label, path=directory, free=usage.free, total=usage.total))
    return facts


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


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool | None:
    number = _int(value)
    return None if number is None else bool(number)
