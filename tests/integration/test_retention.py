"""The retention cleanup deletes what is older than its retention, and nothing else.

Log files of ended processes go LOG_RETENTION_DAYS after their last line, never a running
process's, on any host sharing the folder; notifications after 180 days, dismissed ones 30
days after they were dismissed; the audit log only when an operator gives it an age.
Real files in a folder of the test's own, real rows in PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.support.factories import Factory
from tests.support.jobs import isolated, job_services, running_pool, wait_for_state, wait_until

from ailawyer.config import Settings
from ailawyer.db.models import AuditLog, Notification, User, utcnow
from ailawyer.domain.roles import Role
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.logs import file_host
from ailawyer.runtime_settings.definitions import AUDIT_RETENTION_DAYS
from ailawyer.services import Services
from ailawyer.worker import retention
from ailawyer.worker.log_retention import delete_ended_process_logs, running_processes

DAY = 24 * 3600
HOST = file_host(socket.gethostname())
OTHER_HOST = "other-host"


@pytest.fixture
async def own(settings: Settings, services: Services, tmp_path: Path) -> AsyncIterator[Services]:
    """Services with a log folder and a key prefix of their own (after `services` cleaned up)."""
    async with job_services(isolated(settings, log_dir=tmp_path / "log")) as own:
        yield own


def ended_pid() -> int:
    """The pid of a process that ran here and has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(10)
    return process.pid


def write(log_dir: Path, name: str, *, days_old: float, size: int = 100) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / name
    path.write_bytes(b"x" * size)
    moment = time.time() - days_old * DAY
    os.utime(path, (moment, moment))
    return path


async def redis_up_long_enough(services: Services) -> None:
    """Until Redis has been up for a heartbeat timeout, other hosts' files are all kept."""

    async def long_enough() -> bool:
        uptime = int((await services.redis.info("server"))["uptime_in_seconds"])
        return uptime >= services.apps.stale_after_seconds

    await wait_until(long_enough, within=10, interval=0.2, what="Redis uptime")


async def test_log_files_of_ended_processes_go_after_the_retention_and_nothing_else(
    own: Services,
) -> None:
    log_dir = own.settings.effective_log_dir
    ended, young = ended_pid(), ended_pid()
    old, older = own.settings.log_retention_days + 1, own.settings.log_retention_days + 30
    deleted = [
        write(log_dir, f"app-{HOST}-{ended}.log", days_old=old, size=300),
        write(log_dir, f"app-{HOST}-{ended}.log.1", days_old=older, size=500),
        # Another host's process without a heartbeat has ended.
        write(log_dir, f"worker-{OTHER_HOST}-4243.log.2", days_old=older, size=700),
    ]
    kept = [
        # Ended, but its last line is younger than the retention.
        write(log_dir, f"worker-{HOST}-{young}.log", days_old=old - 2),
        # Running here (this test's process), however quiet its file.
        write(log_dir, f"worker-{HOST}-{os.getpid()}.log", days_old=older),
        # Running on another host: its heartbeat is fresh.
        write(log_dir, f"app-{OTHER_HOST}-4242.log.3", days_old=older),
        # Not a log file of ours.
        write(log_dir, "notizen.txt", days_old=older),
    ]
    await own.apps.beat("other-app", {"host": OTHER_HOST, "pid": 4242})
    await redis_up_long_enough(own)

    async with running_pool(own):
        job = await own.jobs.enqueue("system", SystemTaskPayload(task="retention-cleanup"))
        done = await wait_for_state(own, "system", str(job.id), "completed", within=10)

    assert done.returnvalue["logFilesDeleted"] == 3
    assert done.returnvalue["logBytesDeleted"] == 300 + 500 + 700
    assert sorted(p.name for p in log_dir.iterdir()) == sorted(p.name for p in kept)
    assert not any(path.exists() for path in deleted)


async def test_right_after_redis_started_other_hosts_files_wait_for_the_heartbeats(
    settings: Settings, services: Services, tmp_path: Path
) -> None:
    server = RedisServer(data_dir=tmp_path / "redis")
    server.start()
    try:
        async with job_services(isolated(settings, redis_url=server.url)) as own:
            other = write(tmp_path / "log", f"app-{OTHER_HOST}-77.log", days_old=100)
            local = write(tmp_path / "log", f"app-{HOST}-{ended_pid()}.log", days_old=100)

            early = await delete_ended_process_logs(
                tmp_path / "log", retention_days=14, running=await running_processes(own)
            )
            assert (early.files, local.exists(), other.exists()) == (1, False, True)

            await redis_up_long_enough(own)
            later = await delete_ended_process_logs(
                tmp_path / "log", retention_days=14, running=await running_processes(own)
            )
            assert (later.files, other.exists()) == (1, False)
    finally:
        server.stop()


async def notification(
    services: Services, user: User, seq: int, *, days_old: float, dismissed_days_ago: float | None
) -> int:
    now = utcnow()
    async with services.db.session() as session:
        row = Notification(
            user_id=user.id,
            seq=seq,
            type="job.completed",
            title=f"Nummer {seq}",
            created_at=now - timedelta(days=days_old),
            dismissed_at=None
            if dismissed_days_ago is None
            else now - timedelta(days=dismissed_days_ago),
        )
        session.add(row)
        await session.commit()
        return row.id


async def audit_entry(services: Services, user: User, *, days_old: float) -> int:
    async with services.db.session() as session:
        row = AuditLog(
            kanzlei_id=user.kanzlei_id,
            user_id=user.id,
            action="setting.change",
            created_at=utcnow() - timedelta(days=days_old),
        )
        session.add(row)
        await session.commit()
        return row.id


async def ids(services: Services, model: type[Notification] | type[AuditLog]) -> set[int]:
    async with services.db.session() as session:
        return set((await session.scalars(select(model.id))).all())


async def test_notifications_and_audit_entries_go_after_their_retention(
    own: Services,
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Batches of two, so the deletion takes several transactions.
    monkeypatch.setattr(retention, "BATCH", 2)
    user = await factory.user(Role.ANWALT)
    gone = {
        await notification(own, user, 1, days_old=181, dismissed_days_ago=None),
        await notification(own, user, 2, days_old=200, dismissed_days_ago=None),
        await notification(own, user, 3, days_old=250, dismissed_days_ago=240),
        await notification(own, user, 4, days_old=40, dismissed_days_ago=31),
    }
    kept = {
        await notification(own, user, 5, days_old=179, dismissed_days_ago=None),
        await notification(own, user, 6, days_old=40, dismissed_days_ago=29),
        await notification(own, user, 7, days_old=0, dismissed_days_ago=None),
    }
    ancient = await audit_entry(own, user, days_old=3000)
    recent = await audit_entry(own, user, days_old=10)

    # Read where every line goes (the stdlib root logger), not by reconfiguring structlog:
    # its loggers are built once, so `structlog.testing.capture_logs` misses a module's
    # logger that logged before.
    caplog.set_level(logging.INFO)
    first = await retention.run_retention(own)
    lines = [record.msg for record in caplog.records if isinstance(record.msg, dict)]

    assert (first.notifications, first.audit_entries) == (len(gone), 0)
    assert await ids(own, Notification) == kept
    assert await ids(own, AuditLog) == {ancient, recent}, "the audit log is kept by default"
    [line] = [line for line in lines if line["event"] == "retention cleanup done"]
    assert line["notificationsDeleted"] == 4
    assert line["auditEntriesDeleted"] == 0

    await own.runtime_settings.set(AUDIT_RETENTION_DAYS, 365)
    second = await retention.run_retention(own)

    assert (second.notifications, second.audit_entries) == (0, 1)
    assert await ids(own, AuditLog) == {recent}
