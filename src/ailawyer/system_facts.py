"""Facts about the machinery an installation runs on: Redis memory and durability, free disk.

Read-only and framework-free, so the admin system page (`app/web/admin/system`) and the
alerts (`ailawyer.alerts`) read them alike. Each reader is bounded (a few Redis commands,
one `statvfs` per directory) so it can be polled.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from redis.asyncio import Redis
from redis.exceptions import ResponseError

Status = Literal["up", "degraded", "down"]

REQUIRED_EVICTION_POLICY = "noeviction"
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
    def memory_fraction(self) -> float | None:
        """Used memory as a fraction of `maxmemory`; None without a limit (or unknown)."""
        if not self.max_memory or self.used_memory is None:
            return None
        return self.used_memory / self.max_memory

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


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _flag(value: Any) -> bool | None:
    number = _int(value)
    return None if number is None else bool(number)
