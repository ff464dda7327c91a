"""Settings propagation: from an admin's save to "applied" in 4 processes (2 app, 2 worker).

    uv run python -m bench.settings_propagation --runs 200

Starts an embedded Redis, a database (a SQLite file unless `--database-url` names another,
e.g. a fresh PostgreSQL database), two `ailawyer serve` and two `ailawyer worker`
processes in a temporary directory, and logs an admin in on the first app. Each run saves
one setting with the admin form's own request (`POST /admin/settings`, as htmx sends it)
and waits until all four processes acknowledged the change. A process acknowledges after
it applied the value and ran its watchers (e.g. `follow_level_setting`); the acknowledgement
carries its own clock reading (all processes share this machine's clock), so "applied"
is measured where it happens, not when this script polls for it. Runs alternate between
the maintenance banner (a new text each time) and the log level (INFO <-> WARNING, which
every process applies to its loggers).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.support.http import csrf_token, login
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.config import Environment, Settings, normalize_database_url
from ailawyer.db.migrate import upgrade
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.domain.users import create_user
from ailawyer.embedded_redis import RedisServer
from ailawyer.runtime_settings.definitions import LOG_LEVEL, MAINTENANCE_BANNER
from ailawyer.services import Services

EMAIL = "bench-admin@kanzlei.example"
PASSWORD = "bench-passwort-" + secrets.token_hex(4)
PROCESSES = 4
POLL_SECONDS = 0.002
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Run:
    setting: str
    # Seconds from just before the POST was sent.
    answered: float
    applied: list[float]  # per process


async def create_admin(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    database = Database(database_url)
    try:
        async with database.session() as session:
            await create_user(
                session,
                email=EMAIL,
                name="Bench Admin",
                role=Role.ADMIN,
                password=PASSWORD,
                kanzlei_name="Bench-Kanzlei",
            )
            await session.commit()
    finally:
        await database.dispose()


async def wait_for_processes(services: Services) -> list[tuple[str, int]]:
    """(host, pid) of the 2 apps and 2 workers, once all send heartbeats."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        records = [*await services.apps.alive(), *await services.workers.alive()]
        if len(records) >= PROCESSES:
            return [(r["host"], r["pid"]) for r in records]
        await asyncio.sleep(0.1)
    raise TimeoutError("the app and worker processes did not start")


async def measure_one(
    client: httpx.AsyncClient,
    services: Services,
    processes: list[tuple[str, int]],
    setting: str,
    value: str,
) -> Run:
    runtime = services.runtime_settings
    sent = time.time()
    response = await client.post("/admin/settings", data={setting: value})
    answered = time.time() - sent
    response.raise_for_status()
    version = await runtime.current_version()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        acks = await runtime.acknowledgements(processes)
        if all(ack is not None and ack.version >= version for ack in acks):
            return Run(setting, answered, [ack.at - sent for ack in acks if ack])
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every process applied change {version}: {acks}")
        await asyncio.sleep(POLL_SECONDS)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def row(name: str, values: list[float]) -> str:
    ms = [value * 1000 for value in values]
    return (
        f"| {name} | {len(ms)} | {percentile(ms, 0.5):.1f} | {percentile(ms, 0.99):.1f} "
        f"| {min(ms):.1f} | {max(ms):.1f} |"
    )


async def measure(base_url: str, settings: Settings, runs: int) -> list[Run]:
    services = Services.create(settings)
    try:
        processes = await wait_for_processes(services)
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            await login(client, EMAIL, PASSWORD)
            client.headers["x-csrftoken"] = await csrf_token(client, "/admin/settings")
            client.headers["hx-request"] = "true"
            # Warm-up: connections, templates, the first query of each process.
            await measure_one(client, services, processes, MAINTENANCE_BANNER, "warm-up")
            results = []
            for number in range(runs):
                if number % 2:
                    level = "WARNING" if number % 4 == 1 else "INFO"
                    setting, value = LOG_LEVEL, level
                else:
                    setting, value = MAINTENANCE_BANNER, f"Wartung Nr. {number}"
                results.append(await measure_one(client, services, processes, setting, value))
                await asyncio.sleep(0.02)
        return results
    finally:
        await services.close()


async def main(runs: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as root:
        data = Path(root)
        redis = RedisServer(data_dir=data / "redis")
        redis.start()
        database_url = normalize_database_url(database_url or f"sqlite:///{data / 'bench.sqlite3'}")
        secret_key = secrets.token_hex(32)
        processes: list[AilawyerProcess] = []
        try:
            await create_admin(database_url)
            env = {
                **{k: v for k, v in os.environ.items() if not k.isupper() or k in {"PATH", "HOME"}},
                "ENVIRONMENT": "test",
                "SECRET_KEY": secret_key,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis.url,
                "DATA_DIR": str(data),
                # No LOG_LEVEL: it would pin each process's level over the saved one.
                "HOST": "127.0.0.1",
                "WORKER_HEARTBEAT_SECONDS": "1",
            }
            ports = [free_port(), free_port()]
            for index, port in enumerate(ports):
                processes.append(
                    AilawyerProcess(["serve", "--port", str(port)], env, data / f"app{index}.out")
                )
            for index in range(2):
                processes.append(AilawyerProcess(["worker"], env, data / f"worker{index}.out"))
            for port, process in zip(ports, processes, strict=False):
                wait_for_http(f"http://127.0.0.1:{port}/api/health", process=process)
            settings = Settings(
                _env_file=None,
                environment=Environment.TEST,
                secret_key=secret_key,
                database_url=database_url,
                redis_url=redis.url,
                data_dir=data,
                worker_heartbeat_seconds=1.0,
            )
            results = await measure(f"http://127.0.0.1:{ports[0]}", settings, runs)
        finally:
            for process in processes:
                process.stop()
            redis.stop()

    print(f"{len(results)} saves, {PROCESSES} processes (2 app, 2 worker); times in ms")
    print("| measured | n | p50 | p99 | min | max |")
    print("|---|---|---|---|---|---|")
    print(row("save -> applied in all 4", [max(r.applied) for r in results]))
    print(row("save -> applied, each process", [t for r in results for t in r.applied]))
    print(row("first -> last process applied", [max(r.applied) - min(r.applied) for r in results]))
    print(row("save -> HTTP answer", [r.answered for r in results]))
    for setting in (MAINTENANCE_BANNER, LOG_LEVEL):
        subset = [max(r.applied) for r in results if r.setting == setting]
        print(row(f"save -> applied in all 4 ({setting})", subset))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--database-url", help="an empty database to use (default: a SQLite file in a temp dir)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.database_url))
