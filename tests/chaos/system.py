"""The system under chaos, all real processes owned by the suite.

Redis with AOF (`RedisServer`, fixed port), PostgreSQL (a cluster of our own when initdb
works here, else a fresh database on the shared server, which is then never restarted),
two `ailawyer serve` processes on fixed ports and two `ailawyer worker` processes. Every
process is recorded with how it ended, so a crash the suite did not cause stands out.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from tests.conftest import POSTGRES_ADMIN_URL, process_env
from tests.support.ports import free_port
from tests.support.postgres_cluster import ClusterUnavailable, PostgresCluster
from tests.support.processes import AilawyerProcess

from ailawyer.config import Environment, Settings
from ailawyer.db.migrate import upgrade
from ailawyer.embedded_redis import RedisServer
from ailawyer.services import Services

APP_PROCESSES = 2
WORKER_PROCESSES = 2
DATABASE = "ailawyer_chaos"
# Scaled down like the other tests, but the retries still span a Redis or PostgreSQL
# restart (1 + 2 + 4 s): a job must survive a fault, not exhaust its attempts in it.
JOB_SETTINGS: dict[str, Any] = {
    "job_backoff_seconds": [1.0, 2.0, 4.0],
    "job_lock_seconds": 3.0,
    "job_stalled_interval_seconds": 1.0,
    "worker_reconnect_seconds": 0.5,
    "shutdown_grace_seconds": 10.0,
    "worker_heartbeat_seconds": 1.0,
    "job_cleanup_interval_seconds": 5.0,
    # How often Dokumente whose job is gone (an app killed mid-upload) are found.
    "dokumente_recovery_seconds": 5.0,
}
START_TIMEOUT_SECONDS = 45.0
# A SIGTERMed worker finishes its jobs (at most a few seconds each) within the grace period.
TERM_TIMEOUT_SECONDS = 20.0
HEALTH_TIMEOUT_SECONDS = 3.0
POLL_SECONDS = 0.1


class Fate:
    """How a process ended; anything not caused by the suite is a crash."""

    KILLED = "SIGKILL by the suite"
    TERMINATED = "SIGTERM by the suite"
    STOPPED = "stopped at the end"
    CRASHED = "exited on its own"


@dataclass
class Managed:
    """One `ailawyer` process of the run and how it ended."""

    kind: str  # "app" or "worker"
    name: str
    process: AilawyerProcess
    port: int | None = None
    fate: str | None = None
    exit_code: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.fate is None

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}): {self.fate}, exit code {self.exit_code}"


@dataclass
class ChaosSystem:
    """Starts, breaks, repairs and finally stops every part of the system."""

    root: Path
    rng: random.Random
    processes: list[Managed] = field(default_factory=list)
    postgres_mode: str = ""
    settings: Settings = field(init=False)
    services: Services = field(init=False)
    redis: RedisServer = field(init=False)
    cluster: PostgresCluster | None = None
    _shared_database: str | None = None
    _counter: int = 0
    app_ports: list[int] = field(default_factory=list)

    # --- start and stop --------------------------------------------------------------

    async def start(self) -> None:
        """Bring everything up: PostgreSQL (migrated), Redis, apps, workers."""
        database_url = await self._start_postgres()
        await asyncio.to_thread(upgrade, database_url)
        self.redis = RedisServer(data_dir=self.root / "redis")
        await asyncio.to_thread(self.redis.start)
        self.settings = Settings(
            _env_file=None,
            environment=Environment.TEST,
            database_url=database_url,
            redis_url=self.redis.url,
            secret_key=secrets.token_hex(32),
            data_dir=self.root / "data",
            log_dir=self.root / "log",
            # The checks read each job run's start and end, which the worker logs at DEBUG.
            log_level="DEBUG",
            **JOB_SETTINGS,
        )
        self.services = Services.create(self.settings)
        self.app_ports = [free_port() for _ in range(APP_PROCESSES)]
        await asyncio.gather(
            *(self.start_app(port) for port in self.app_ports),
            *(self.start_worker() for _ in range(WORKER_PROCESSES)),
        )

    async def _start_postgres(self) -> str:
        try:
            self.cluster = PostgresCluster()
            await asyncio.to_thread(self.cluster.init)
            await asyncio.to_thread(self.cluster.start)
        except (ClusterUnavailable, subprocess.CalledProcessError) as why:
            if self.cluster is not None:
                await asyncio.to_thread(self.cluster.destroy)
            self.cluster = None
            name = f"ailawyer_chaos_{uuid.uuid4().hex[:8]}"
            await _admin_execute(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"')
            self._shared_database = name
            self.postgres_mode = f"shared server {POSTGRES_ADMIN_URL} (never restarted): {why}"
            base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
            return f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
        await _admin_execute(self.cluster.admin_url, f'CREATE DATABASE "{DATABASE}"')
        self.postgres_mode = (
            f"own cluster (initdb/pg_ctl, port {self.cluster.port}, data in {self.cluster.root})"
        )
        return self.cluster.url(DATABASE)

    async def stop(self) -> None:
        """Stop every process gracefully (recording exit codes), then the services."""
        await asyncio.gather(*(self._stop(p) for p in self.processes if p.running))
        # Whatever start() got to before it failed is stopped too.
        if (services := getattr(self, "services", None)) is not None:
            with contextlib.suppress(Exception):
                await services.close()
        if (redis := getattr(self, "redis", None)) is not None:
            await asyncio.to_thread(redis.stop)
        if self.cluster is not None:
            await asyncio.to_thread(self.cluster.destroy)
        elif self._shared_database is not None:
            drop = f'DROP DATABASE IF EXISTS "{self._shared_database}" WITH (FORCE)'
            await _admin_execute(POSTGRES_ADMIN_URL, drop)

    async def _stop(self, managed: Managed) -> None:
        managed.fate = Fate.STOPPED
        managed.exit_code = await asyncio.to_thread(managed.process.stop, TERM_TIMEOUT_SECONDS)

    # --- processes -------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        return process_env(self.settings)

    def _spawn(self, kind: str, args: list[str], port: int | None = None) -> Managed:
        self._counter += 1
        name = f"{kind}-{self._counter}"
        process = AilawyerProcess(args, self._env(), self.root / f"{name}.out")
        managed = Managed(kind, name, process, port)
        self.processes.append(managed)
        return managed

    async def start_app(self, port: int) -> Managed:
        """`ailawyer serve` on `port`; returns once it answers HTTP."""
        managed = self._spawn("app", ["serve", "--port", str(port)], port)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_SECONDS) as http:
            while True:
                if managed.process.process.poll() is not None:
                    raise RuntimeError(f"{managed.name} exited at start:\n{_tail(managed)}")
                with contextlib.suppress(httpx.TransportError):
                    await http.get(f"http://127.0.0.1:{port}/api/health")
                    return managed
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{managed.name} did not answer:\n{_tail(managed)}")
                await asyncio.sleep(POLL_SECONDS)

    async def start_worker(self) -> Managed:
        """`ailawyer worker`; returns once its heartbeat is in Redis."""
        managed = self._spawn("worker", ["worker"])
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while managed.pid not in await self.worker_pids_alive():
            if managed.process.process.poll() is not None:
                raise RuntimeError(f"{managed.name} exited at start:\n{_tail(managed)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{managed.name} sent no heartbeat:\n{_tail(managed)}")
            await asyncio.sleep(POLL_SECONDS)
        return managed

    def running(self, kind: str) -> list[Managed]:
        return [p for p in self.processes if p.kind == kind and p.running]

    async def kill(self, managed: Managed) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        managed.fate = Fate.KILLED
        managed.process.signal(signal.SIGKILL)
        await asyncio.to_thread(managed.process.wait, TERM_TIMEOUT_SECONDS)
        managed.exit_code = managed.process.stop()  # reaped already; closes its output file

    async def terminate(self, managed: Managed) -> None:
        """SIGTERM, as compose or systemd sends it; a worker must finish and exit 0."""
        managed.fate = Fate.TERMINATED
        managed.process.signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(managed.process.wait, TERM_TIMEOUT_SECONDS)
            managed.exit_code = managed.process.stop()
        except subprocess.TimeoutExpired:
            managed.process.stop(timeout=0)
            managed.exit_code = None  # did not stop within the grace period: a failure

    def pick(self, kind: str) -> Managed:
        return self.rng.choice(self.running(kind))

    def check_for_crashes(self) -> list[Managed]:
        """Record and return processes that ended although the suite did nothing to them."""
        crashed = []
        for managed in self.processes:
            if managed.running and managed.process.process.poll() is not None:
                managed.fate, managed.exit_code = Fate.CRASHED, managed.process.stop()
                crashed.append(managed)
        return crashed

    # --- services --------------------------------------------------------------------

    async def restart_redis(self) -> None:
        """SHUTDOWN (the AOF is flushed) and start again on the same port."""
        await asyncio.to_thread(self.redis.restart)

    async def restart_postgres(self) -> None:
        """`pg_ctl restart -m fast`: every connection of every process is cut."""
        if self.cluster is None:
            raise RuntimeError("the shared PostgreSQL server is never restarted")
        await asyncio.to_thread(self.cluster.restart)

    # --- health ----------------------------------------------------------------------

    async def worker_pids_alive(self) -> set[int]:
        """Pids of the workers whose heartbeat is fresh (empty while Redis is away)."""
        try:
            return {int(record["pid"]) for record in await self.services.workers.alive()}
        except Exception:  # Redis restarting: nobody is known to be alive
            return set()

    async def app_health(self, http: httpx.AsyncClient, port: int) -> str:
        """The status `/api/health` of the app on `port` reports, or "unreachable"."""
        try:
            response = await http.get(f"http://127.0.0.1:{port}/api/health")
            return str(response.json().get("status"))
        except (httpx.HTTPError, ValueError):
            return "unreachable"

    async def missing_for_health(self, http: httpx.AsyncClient) -> str | None:
        """None when every app answers "healthy" and every running worker sends heartbeats;
        else what is missing."""
        statuses = await asyncio.gather(*(self.app_health(http, p) for p in self.app_ports))
        for port, status in zip(self.app_ports, statuses, strict=True):
            if status != "healthy":
                return f"app :{port} {status}"
        silent = {w.pid for w in self.running("worker")} - await self.worker_pids_alive()
        return f"heartbeat of worker pid {sorted(silent)}" if silent else None

    def app_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.app_ports[index]}"

    def output_files(self) -> list[Path]:
        return [p.process.log_path for p in self.processes]


async def _admin_execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _tail(managed: Managed) -> str:
    return managed.process.output()[-3000:]
