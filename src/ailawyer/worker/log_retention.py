"""Log files of ended processes: deleted once their newest line is LOG_RETENTION_DAYS old.

Every process writes `<kind>-<host>-<pid>.log` and rotates it to `.log.1`, `.log.2`, ...
(`ailawyer.logs`), so every restart leaves files behind. A file goes when its last write
(its mtime) is older than the retention and the process that wrote it has ended. A running
process's files are never touched: deleting the file it writes would lose its lines until
its next rotation, and deleting a rotation races with the renames of that rotation.

Whether a process still runs, when several hosts share the log folder:
- one of this host (the host part of the name is ours): its pid exists here;
- one of another host: its app or worker heartbeat is fresh (`ailawyer.process_registry`).
  Right after Redis started, not every heartbeat is back yet; until Redis has been up for
  a heartbeat timeout, the files of other hosts are all kept.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ailawyer.logs import FILE_NAME, file_host
from ailawyer.process_registry import pid_runs

if TYPE_CHECKING:
    from ailawyer.services import Services

DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class RunningProcesses:
    """The processes that may still write log files, as (host in file names, pid)."""

    this_host: str
    # Apps and workers with a fresh heartbeat, of every host.
    registered: frozenset[tuple[str, int]]
    # False while the heartbeats may be incomplete: other hosts' files are then kept.
    other_hosts_known: bool

    def runs(self, host: str, pid: int) -> bool:
        """Whether the process that writes `<kind>-<host>-<pid>.log` may still run."""
        if host == self.this_host:
            return pid_runs(pid)
        return not self.other_hosts_known or (host, pid) in self.registered


@dataclass(frozen=True)
class LogFilesDeleted:
    """What one run removed."""

    files: int
    bytes: int


async def running_processes(services: Services) -> RunningProcesses:
    """The registered apps and workers, and whether Redis has been up long enough to know all."""
    registries = (services.apps, services.workers)
    records = [record for registry in registries for record in await registry.alive()]
    uptime = int((await services.redis.info("server"))["uptime_in_seconds"])
    return RunningProcesses(
        this_host=file_host(socket.gethostname()),
        registered=frozenset((file_host(str(r["host"])), int(r["pid"])) for r in records),
        other_hosts_known=uptime >= max(r.stale_after_seconds for r in registries),
    )


async def delete_ended_process_logs(
    log_dir: Path, *, retention_days: int, running: RunningProcesses
) -> LogFilesDeleted:
    """Delete the log files in `log_dir` of ended processes whose last write is older than
    `retention_days`; other files (running processes, other names) stay."""
    cutoff = time.time() - retention_days * DAY_SECONDS
    return await asyncio.to_thread(_delete, log_dir, cutoff, running)


def _delete(log_dir: Path, cutoff: float, running: RunningProcesses) -> LogFilesDeleted:
    files = size = 0
    try:
        entries = list(os.scandir(log_dir))
    except FileNotFoundError:
        return LogFilesDeleted(0, 0)
    for entry in entries:
        match = FILE_NAME.match(entry.name)
        if match is None:
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # rotated or deleted meanwhile
            continue
        if not entry.is_file(follow_symlinks=False) or stat.st_mtime >= cutoff:
            continue
        if running.runs(match["host"], int(match["pid"])):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:  # another worker's cleanup was first
            continue
        files += 1
        size += stat.st_size
    return LogFilesDeleted(files, size)
