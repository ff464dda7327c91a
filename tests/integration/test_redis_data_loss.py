"""Every upload answered 201 is processed, once, also when Redis comes back without its jobs.

Found under load (5 uploads/s): a Redis restarted without its last 1.5 s of writes (a host
crash) left 8 of 286 accepted uploads "Ausstehend" 90 s later, and one restarted empty (a
lost volume, a failover to an empty replica) 35 of 100 for good: the recovery of Dokumente
without a job ran every 15 minutes, and its schedule lived only in Redis.

Here an app and a worker run against a Redis and a database of the test's own while a
client uploads at 5/s. Redis is SIGKILLed and started (1) from a copy of its AOF taken a
moment earlier, so the writes after it are missing, (2) with its files deleted. Every
upload answered 201 must be processed within 60 s of Redis' return, and none twice (one
completion notice each). The long form (`make chaos`, marked slow) loses Redis' data
REDIS_LOSS_ROUNDS times each way, with REDIS_LOSS_LOAD_SECONDS of load around each.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import (
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
    process_env,
)
from tests.support.factories import Factory
from tests.support.jobs import FAST_JOB_SETTINGS, job_services, wait_until
from tests.support.pdfs import numbered_pdf
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http
from tests.support.worker_processes import wait_for_workers

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Environment, Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Dokument, DokumentStatus, Notification
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.domain.roles import Role
from ailawyer.embedded_redis import RedisServer
from ailawyer.notifications.types import JOB_COMPLETED
from ailawyer.services import Services

UPLOADS_PER_SECOND = 5.0
LOAD_SECONDS = 3.0
LONG_LOAD_SECONDS = float(os.environ.get("REDIS_LOSS_LOAD_SECONDS", "10"))
LONG_ROUNDS = int(os.environ.get("REDIS_LOSS_ROUNDS", "10"))
# The bound the issue sets: every accepted upload processed within a minute of the return.
PROCESSED_WITHIN = 60.0
CSRF_COOKIE = "csrftoken"
PAGES = 3
# Right before each fault the person drops this many files at once (one request), so that
# Redis goes while jobs wait, however fast the machine (4 run at a time by default).
BURST = 10
# How long before the crash the copy of the AOF is taken: the writes the crash loses.
LOST_SECONDS = 1.0


@dataclass
class System:
    """The processes under test and the test's own view of their database and Redis."""

    redis: RedisServer
    services: Services
    app_url: str
    worker: AilawyerProcess
    factory: Factory


@pytest.fixture(scope="module")
async def system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    root = tmp_path_factory.mktemp("redis-loss")
    name = f"ailawyer_loss_{uuid.uuid4().hex[:10]}"
    database_url = await create_postgres_database(name)
    redis = RedisServer(data_dir=root / "redis")
    processes: list[AilawyerProcess] = []
    try:
        await asyncio.to_thread(upgrade, database_url)
        await asyncio.to_thread(redis.start)
        settings = Settings(
            _env_file=None,
            environment=Environment.TEST,
            database_url=database_url,
            redis_url=redis.url,
            secret_key=TEST_SECRET_KEY,
            data_dir=root / "data",
            log_dir=root / "log",
            log_level="INFO",
            worker_heartbeat_seconds=1.0,
            # Its scheduled recovery (every hour here) stays out of the way: what must bring
            # the jobs back within the minute is the worker noticing that Redis came back.
            **FAST_JOB_SETTINGS,
        )
        async with job_services(settings) as services:
            port = free_port()
            env = process_env(settings)
            app = AilawyerProcess(["serve", "--port", str(port)], env, root / "app.out")
            worker = AilawyerProcess(["worker"], env, root / "worker.out")
            processes += [app, worker]
            await asyncio.to_thread(wait_for_http, f"http://127.0.0.1:{port}/api/health", 45, app)
            await wait_for_workers(services, 1, within=45)
            yield System(redis, services, f"http://127.0.0.1:{port}", worker, Factory(services.db))
            for process in processes:
                process.signal(signal.SIGTERM)
            codes = await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))
            assert codes == [0, 0], "\n".join(p.output()[-3000:] for p in processes)
    finally:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in processes))
        await asyncio.to_thread(redis.stop)
        await drop_postgres_database(name)


@dataclass
class Uploader:
    """One person uploading at a fixed rate; signs in again when Redis lost the session."""

    system: System
    user_id: int
    akte_id: int
    csrf: str
    token: str = ""
    # Dokument id -> when its 201 came (monotonic).
    accepted: dict[int, float] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)

    async def sign_in(self) -> None:
        self.token = await self.system.services.sessions.create(
            self.user_id, ip=None, user_agent="redis-loss"
        )

    async def run(self, seconds: float, fault: Callable[[], Awaitable[None]]) -> None:
        """Upload for `seconds`; the fault starts a third of the way through."""
        async with httpx.AsyncClient(base_url=self.system.app_url, timeout=15) as http:
            sending = asyncio.create_task(self._pace(http, seconds))
            await asyncio.sleep(seconds / 3)  # the fault's place in the load is its subject
            await fault()
            await sending

    async def burst(self) -> None:
        """Upload BURST files in one request (and wait for the answer)."""
        async with httpx.AsyncClient(base_url=self.system.app_url, timeout=15) as http:
            await self._upload(http, "stapel", BURST)

    async def _pace(self, http: httpx.AsyncClient, seconds: float) -> None:
        started = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        sent = 0
        while (due := started + sent / UPLOADS_PER_SECOND) < started + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            pending.add(asyncio.create_task(self._upload(http, f"einzeln-{sent}", 1)))
            sent += 1
        await asyncio.gather(*pending)

    async def _upload(self, http: httpx.AsyncClient, name: str, count: int) -> None:
        files = [
            ("dateien", (f"{name}-{n}.pdf", numbered_pdf(PAGES), "application/pdf"))
            for n in range(count)
        ]
        try:
            response = await http.post(
                f"/akten/{self.akte_id}/dokumente",
                files=files,
                headers={
                    "Cookie": f"{SESSION_COOKIE}={self.token}; {CSRF_COOKIE}={self.csrf}",
                    "x-csrftoken": self.csrf,
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as error:
            self.outcomes[type(error).__name__] += 1
            return
        self.outcomes[str(response.status_code)] += 1
        if response.status_code == 201:
            for dokument in response.json()["dokumente"]:
                self.accepted[int(dokument["id"])] = time.monotonic()
        elif response.status_code in (401, 303):
            # An empty Redis has no sessions: the person signs in again.
            await self.sign_in()


async def uploader(system: System) -> Uploader:
    person = await system.factory.user(Role.ANWALT)
    akte = await system.factory.akte(person.kanzlei_id, anwalt=person)
    async with httpx.AsyncClient(base_url=system.app_url, timeout=10) as fresh:
        csrf = (await fresh.get("/anmelden")).cookies[CSRF_COOKIE]
    made = Uploader(system, person.id, akte.id, csrf)
    await made.sign_in()
    return made


async def processed_once(system: System, uploader: Uploader, returned_at: float) -> list[float]:
    """Wait until every accepted upload is processed; seconds after the return for each."""
    ids = set(uploader.accepted)

    async def all_done() -> list[Dokument] | None:
        async with system.services.db.session() as session:
            rows = (await session.scalars(select(Dokument).where(Dokument.id.in_(ids)))).all()
        finished = [d for d in rows if d.status is DokumentStatus.ABGESCHLOSSEN]
        return finished if len(finished) == len(ids) else None

    remaining = returned_at + PROCESSED_WITHIN - time.time()
    done = await wait_until(all_done, within=remaining, interval=0.2, what="every upload processed")
    async with system.services.db.session() as session:
        notices = (
            await session.scalars(
                select(Notification).where(
                    Notification.user_id == uploader.user_id, Notification.type == JOB_COMPLETED.key
                )
            )
        ).all()
    told = Counter(int(n.data["dokumentId"]) for n in notices)
    assert {d: n for d, n in told.items() if n != 1} == {}, "a Dokument was completed twice"
    assert set(told) == ids, "every uploader was told once"
    return [d.updated_at.replace(tzinfo=UTC).timestamp() - returned_at for d in done]


def aof_dir(redis: RedisServer) -> Path:
    return redis.data_dir / "appendonlydir"


async def unfinished(system: System, ids: set[int]) -> set[int]:
    async with system.services.db.session() as session:
        rows = await session.scalars(
            select(Dokument.id).where(
                Dokument.id.in_(ids), Dokument.status != DokumentStatus.ABGESCHLOSSEN
            )
        )
        return set(rows.all())


def runs_of_more_than_one(system: System, ids: set[int]) -> int:
    """How many of the Dokumente their job ran for more than once (each run skips a
    Dokument already processed): from the worker's log lines."""
    started: Counter[str] = Counter()
    for line in system.worker.output().splitlines():
        if '"job started"' in line:
            started[json.loads(line).get("jobId", "")] += 1
    return sum(started[dokument_job_id(d)] > 1 for d in ids)


async def crash_without_the_last_writes(system: System, copy: Path, load_seconds: float) -> None:
    person = await uploader(system)
    redis = system.redis
    moments: dict[str, float] = {}
    waiting: set[int] = set()

    async def crash_after_an_older_copy() -> None:
        # The copy is what a crashed host's disk held; what came after it is lost.
        await asyncio.to_thread(shutil.copytree, aof_dir(redis), copy)
        moments["copied"] = time.monotonic()
        await asyncio.sleep(LOST_SECONDS)  # the writes the crash loses: the fault's subject
        await person.burst()
        waiting.update(await unfinished(system, set(person.accepted)))
        await asyncio.to_thread(redis.kill)
        shutil.rmtree(aof_dir(redis))
        shutil.copytree(copy, aof_dir(redis))
        await asyncio.to_thread(redis.start)
        moments["returned"] = time.time()

    await person.run(load_seconds, crash_after_an_older_copy)

    # Accepted after the copy and not processed at the crash: only the recovery brings
    # their jobs back.
    lost = {d for d in waiting if person.accepted[d] > moments["copied"]}
    assert lost, f"no waiting upload was accepted after the copy: {person.outcomes}"
    late = await processed_once(system, person, moments["returned"])
    print(
        f"last writes lost: {len(person.accepted)} accepted ({dict(person.outcomes)}), "
        f"{len(lost)} waiting ones lost; all processed within {max(late):.1f} s of Redis' "
        f"return; {runs_of_more_than_one(system, set(person.accepted))} ran more than once"
    )


async def lose_everything(system: System, load_seconds: float) -> None:
    person = await uploader(system)
    redis = system.redis
    moments: dict[str, float] = {}
    waiting: set[int] = set()

    async def restart_empty() -> None:
        await person.burst()
        waiting.update(await unfinished(system, set(person.accepted)))
        await asyncio.to_thread(redis.kill)
        shutil.rmtree(aof_dir(redis))
        await asyncio.to_thread(redis.start)
        moments["returned"] = time.time()

    await person.run(load_seconds, restart_empty)

    # Jobs waiting when Redis lost them: only the recovery brings them back.
    assert waiting, f"no job was waiting when Redis lost everything: {person.outcomes}"
    late = await processed_once(system, person, moments["returned"])
    print(
        f"empty: {len(person.accepted)} accepted ({dict(person.outcomes)}), {len(waiting)} "
        f"waiting ones lost; all processed within {max(late):.1f} s of Redis' return; "
        f"{runs_of_more_than_one(system, set(person.accepted))} ran more than once"
    )


async def test_uploads_are_processed_when_redis_comes_back_without_its_last_writes(
    system: System, tmp_path: Path
) -> None:
    await crash_without_the_last_writes(system, tmp_path / "aof", LOAD_SECONDS)
    assert "redis is back" in system.worker.output()


async def test_uploads_are_processed_when_redis_comes_back_empty(system: System) -> None:
    await lose_everything(system, LOAD_SECONDS)


@pytest.mark.slow
@pytest.mark.timeout(60 + 2 * LONG_ROUNDS * (LONG_LOAD_SECONDS + PROCESSED_WITHIN))
async def test_uploads_are_processed_however_often_redis_loses_its_data(
    system: System, tmp_path: Path
) -> None:
    for round_number in range(LONG_ROUNDS):
        await crash_without_the_last_writes(
            system, tmp_path / f"aof-{round_number}", LONG_LOAD_SECONDS
        )
        await lose_everything(system, LONG_LOAD_SECONDS)
