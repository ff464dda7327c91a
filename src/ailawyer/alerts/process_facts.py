"""What only a process itself can see, put where the evaluating process reads it.

The disks a process writes to (uploads, logs) may be other file systems on another host,
and whether its logging works is its own state. So every app and worker process puts its
facts into one Redis hash (`<prefix>:alerts:processes`, process id -> JSON) on every tick
of its alert loop, and the evaluator (any one process) reads everyone's. Facts older than
a few ticks are of a process that ended: they are ignored and removed.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from redis.asyncio import Redis

from ailawyer.config import Settings
from ailawyer.system_facts import read_disks

# The directories every process watches, by the label its texts use (German).
UPLOADS = "Uploads"
LOGS = "Protokolle"


@dataclass(frozen=True)
class DiskSpace:
    path: str
    free: int
    total: int

    @property
    def free_fraction(self) -> float:
        return self.free / self.total if self.total else 0.0


@dataclass(frozen=True)
class ProcessFacts:
    """One process's disks (by label) and logging state, as of `at` (epoch seconds)."""

    process_id: str
    kind: str
    host: str
    pid: int
    at: float
    disks: dict[str, DiskSpace] = field(default_factory=dict)
    logging_degraded: bool = False

    @property
    def name(self) -> str:
        """How the operator's texts name the process: "Worker auf host (PID 123)"."""
        kind = {"app": "App", "worker": "Worker"}.get(self.kind, self.kind)
        return f"{kind} auf {self.host} (PID {self.pid})"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> ProcessFacts:
        data = json.loads(raw)
        disks = {label: DiskSpace(**disk) for label, disk in data.pop("disks").items()}
        return cls(**data, disks=disks)


def local_facts(
    settings: Settings, process_id: str, kind: str, logging_degraded: Callable[[], bool]
) -> ProcessFacts:
    """This process's facts now (two `statvfs` calls)."""
    disks = read_disks({UPLOADS: settings.upload_dir, LOGS: settings.effective_log_dir})
    return ProcessFacts(
        process_id=process_id,
        kind=kind,
        host=socket.gethostname(),
        pid=os.getpid(),
        at=time.time(),
        disks={d.label: DiskSpace(str(d.path), d.free, d.total) for d in disks},
        logging_degraded=logging_degraded(),
    )


class ProcessFactsBoard:
    """Every live process's facts in one Redis hash."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self._key = f"{prefix}:alerts:processes"

    async def put(self, facts: ProcessFacts) -> None:
        await self.redis.hset(self._key, facts.process_id, facts.to_json())

    async def remove(self, process_id: str) -> None:
        """Forget a process at clean shutdown."""
        await self.redis.hdel(self._key, process_id)

    async def current(self, now: float, stale_after: float) -> list[ProcessFacts]:
        """The facts of every process that reported within `stale_after` seconds; older
        entries (processes that ended without saying so) are removed."""
        fresh: list[ProcessFacts] = []
        stale: list[str] = []
        for process_id, raw in (await self.redis.hgetall(self._key)).items():
            try:
                facts = ProcessFacts.from_json(raw)
            except (ValueError, KeyError, TypeError):  # written by another version
                stale.append(process_id)
                continue
            if now - facts.at <= stale_after:
                fresh.append(facts)
            else:
                stale.append(process_id)
        if stale:
            await self.redis.hdel(self._key, *stale)
        return fresh
