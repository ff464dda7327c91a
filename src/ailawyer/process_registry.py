"""Heartbeats of running processes in Redis: written by every app and worker process.

`/api/health` reads the workers' records, the admin system page reads both kinds. Each
kind has a sorted set of process ids by last heartbeat (`<prefix>:<kind>s`) and one
expiring JSON record per process (`<prefix>:<kind>:<id>`); the worker keys are the ones
the worker registry always used, so running workers and readers keep agreeing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from ailawyer import __version__
from ailawyer.logs import get_logger, logging_status

log = get_logger(__name__)

# Index entries of processes that stopped without saying so are dropped after a day.
_INDEX_RETENTION_SECONDS = 24 * 3600


def new_process_id() -> str:
    """A unique id for this process: `<host>:<pid>:<random>` (a pid is reused after restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class ProcessRegistry:
    """The live processes of one kind ("app" or "worker"), by their heartbeats."""

    def __init__(self, redis: Redis, *, prefix: str, kind: str, interval_seconds: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.kind = kind
        self.interval_seconds = interval_seconds

    @property
    def _index(self) -> str:
        return f"{self.prefix}:{self.kind}s"

    def _record(self, process_id: str) -> str:
        return f"{self.prefix}:{self.kind}:{process_id}"

    @property
    def stale_after_seconds(self) -> float:
        # Three missed beats: one slow beat under load must not declare a process dead.
        return self.interval_seconds * 3

    async def beat(self, process_id: str, info: dict[str, Any]) -> None:
        """Record that `process_id` is alive now; `info` adds to host, pid, Python and version."""
        now = time.time()
        record = {
            "kind": self.kind,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            # Where that pid means something: a live worker that shares it may tell that
            # this process is dead (`known_dead`).
            "pidSpace": pid_space(),
            "python": platform.python_version(),
            "version": __version__,
            # Its level and where it comes from, and whether it drops lines (a full disk):
            # the admin pages and the alerts read every process's state from here.
            "logging": logging_status().as_record(),
            **info,
            "id": process_id,
            "lastSeen": now,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(
                self._record(process_id),
                json.dumps(record),
                px=int(self.stale_after_seconds * 1000),
            )
            pipe.zadd(self._index, {process_id: now})
            pipe.zremrangebyscore(self._index, 0, now - _INDEX_RETENTION_SECONDS)
            await pipe.execute()

    async def remove(self, process_id: str) -> None:
        """Forget a process at clean shutdown, so it is not shown as alive until its TTL ends."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._record(process_id))
            pipe.zrem(self._index, process_id)
            await pipe.execute()

    async def alive(self) -> list[dict[str, Any]]:
        """Records of the processes that sent a heartbeat recently, newest first."""
        since = time.time() - self.stale_after_seconds
        ids = await self.redis.zrevrangebyscore(self._index, "+inf", since)
        if not ids:
            return []
        records = await self.redis.mget([self._record(process_id) for process_id in ids])
        return [json.loads(record) for record in records if record]

    async def alive_here(self) -> list[dict[str, Any]]:
        """Fresh records of processes on this host (in a container: this container) that
        are still running, so a killed process's record counts no longer than it lives."""
        host = socket.gethostname()
        return [
            record
            for record in await self.alive()
            if record.get("host") == host and pid_runs(record.get("pid"))
        ]

    async def beat_forever(self, process_id: str, info: Callable[[], dict[str, Any]]) -> None:
        """Beat every interval until cancelled; a failed beat is logged, never fatal."""
        while True:
            try:
                await self.beat(process_id, info())
            except Exception as error:  # Redis away: keep running, it comes back
                log.warning("heartbeat failed", kind=self.kind, error=str(error))
            await asyncio.sleep(self.interval_seconds)

    @asynccontextmanager
    async def heartbeats(
        self, process_id: str, info: Callable[[], dict[str, Any]]
    ) -> AsyncIterator[None]:
        """Beat in the background while the block runs; forget the process when it ends."""
        task = asyncio.create_task(self.beat_forever(process_id, info))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:
                await self.remove(process_id)
            except Exception as error:  # leaving the record to expire is fine
                log.warning("could not remove heartbeat", kind=self.kind, error=str(error))


def pid_runs(pid: object) -> bool:
    """Whether a process with this pid runs in this pid namespace (also the log retention's
    test of this host's processes). A zombie (killed, not yet reaped by its parent) does
    not: it holds no connection and runs no code."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, under another user
        return True
    return not _exited(pid)


def _exited(pid: int) -> bool:
    """Whether /proc shows the process a zombie, or gone since `os.kill` found it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return Path("/proc/self").exists()  # without /proc we cannot tell
    except OSError:
        return False
    # The state follows the command name, which may itself hold ") ".
    return stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"])


@functools.cache
def pid_space() -> str | None:
    """Names this kernel boot and pid namespace: processes with the same name see each other's
    pids. Two containers may share a host name (`network_mode: host`) but never this. None
    where /proc does not tell (then no process is ever known dead by its pid)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{namespace}"


def known_dead(record: Mapping[str, Any]) -> bool:
    """Whether the process of a heartbeat record is certainly gone: it ran in this pid space
    and its pid no longer runs. A process that merely stopped beating (paused, a blocked
    event loop, another machine) is never known dead."""
    space = record.get("pidSpace")
    return space is not None and space == pid_space() and not pid_runs(record.get("pid"))
