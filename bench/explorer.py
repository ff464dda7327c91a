"""Job explorer latency for a queue with 100,000 completed jobs: counts, list pages, search.

The `dokumente` queue is filled through bullmq itself (addBulk, then a no-op bullmq Worker
completes every job), with the ids and payloads real jobs carry (`dokument-<n>`;
{kanzleiId, dokumentId, akteId, userId}; one Akte per 500 jobs, the Akten spread over
KANZLEIEN Kanzleien). No other worker runs. Then each query runs N times after a warm-up,
called in the process (`direct`) and over HTTP against `ailawyer serve` logged in as the
operator (every job) or as the ADMIN of Kanzlei 1 (its tenth of the jobs: counts from the
per-Kanzlei census, lists and searches filtered in Lua) — session, Redis, database for the
Akte/user names and template rendering included.

Run from the repository root:
    uv run python -m bench.explorer [--jobs 100000] [--requests 30] [--workdir DIR] [--keep]
`--keep` keeps the embedded Redis (its AOF) so the next run skips the filling.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from bullmq import Job, Worker
from redis.asyncio import Redis
from tests.support.http import login
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.app.web.admin.jobs.explorer import (
    PER_PAGE,
    SEARCH_RESULTS,
    SEARCH_SECONDS,
    SEARCH_STATES,
    JobSearch,
    SearchCursor,
    SearchQuery,
    SearchResult,
    read_job_page,
    read_queues,
)
from ailawyer.config import Environment, Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.session import Database
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.domain.roles import Role
from ailawyer.domain.users import create_user
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.bullmq_adapter import read_counts
from ailawyer.jobs.kanzlei_counts import KanzleiCounts
from ailawyer.jobs.queues import JobQueues
from ailawyer.redis_client import create_redis

QUEUE = "dokumente"
PREFIX = "bench"
PASSWORD = "bench-passwort-42"
JOBS_PER_AKTE = 500
KANZLEIEN = 10
# The ADMIN's Kanzlei (the first one the bench creates) and one that has no jobs at all.
KANZLEI = 1
NO_JOBS_KANZLEI = 999
BULK = 1000
Call = Callable[[], Awaitable[Any]]


async def fill(queues: JobQueues, total: int) -> float:
    """Add and complete jobs until `total` are completed; returns the seconds it took."""
    queue = queues.queue(QUEUE)
    have = (await read_counts(queue)).counts["completed"]
    if have >= total:
        return 0.0
    started = time.perf_counter()
    for first in range(have, total, BULK):
        await queue.addBulk(
            [
                {
                    "name": "pdf-verarbeitung",
                    "data": {
                        "kanzleiId": (n // JOBS_PER_AKTE) % KANZLEIEN + 1,
                        "dokumentId": n,
                        "akteId": n // JOBS_PER_AKTE + 1,
                        "userId": 7,
                    },
                    "opts": {"attempts": 1, "jobId": dokument_job_id(n)},
                }
                for n in range(first + 1, min(first + BULK, total) + 1)
            ]
        )

    async def no_op(_job: Job, _token: str) -> dict[str, int]:
        return {"pages": 1}

    worker = Worker(
        QUEUE,
        no_op,
        {
            "connection": create_redis(queues.settings.redis_url or ""),
            "prefix": queues.prefix,
            "concurrency": 100,
            "autorun": False,
        },
    )
    task = asyncio.create_task(worker.run())
    while (done := (await read_counts(queue)).counts["completed"]) < total:
        print(f"\r{done:,} of {total:,} completed", end="", file=sys.stderr)
        await asyncio.sleep(1)
    print(file=sys.stderr)
    await worker.close()
    await asyncio.gather(task, return_exceptions=True)
    return time.perf_counter() - started


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.1f} | {p95 * 1000:.1f}"


async def measure(requests: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    await call()  # warm-up: connections, script cache
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def redis_time_per_job(
    redis: Redis, searching: Callable[[str, SearchCursor | None, float], Call]
) -> dict[str, float]:
    """Redis' own time per job inspected, per kind of match, from its command statistics.

    Measured inside Redis, so it leaves out the round trips and this process's share.
    """
    cost = {}
    for mode, text in (
        ("text with letters (lowered)", "gibt-es-nicht"),
        ("digits only", "99999999"),
        ("field value (decoded where the value occurs)", "akteId=999999"),
    ):
        await redis.config_resetstat()
        result = await searching(text, SearchCursor("active", 0), math.inf)()
        stats = (await redis.info("commandstats"))["cmdstat_evalsha"]
        cost[mode] = stats["usec"] / max(1, result.scanned)
    return cost


def start_server(workdir: Path, redis_url: str, port: int) -> AilawyerProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "ENVIRONMENT": "development",
        "SECRET_KEY": "bench-" + "x" * 40,
        "DATA_DIR": str(workdir / "data"),
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": PREFIX,
    }
    server = AilawyerProcess(["serve", "--port", str(port)], env, workdir / "serve.out")
    wait_for_http(f"http://127.0.0.1:{port}/api/health", process=server)
    return server


async def log_in(client: httpx.AsyncClient, email: str) -> None:
    response = await login(client, email, PASSWORD)
    assert response.status_code in (302, 303), response.status_code


async def create_admins(database_url: str, kanzlei_admin: str, operator: str) -> None:
    """The ADMIN of Kanzlei 1 (made first: id 1) and the operator, in a Kanzlei of its own."""
    database = Database(database_url)
    async with database.session() as session:
        for email, kanzlei, is_operator in (
            (kanzlei_admin, "Bench", False),
            (operator, "Betrieb", True),
        ):
            await create_user(
                session,
                email=email,
                name="Bench",
                role=Role.ADMIN,
                password=PASSWORD,
                kanzlei_name=kanzlei,
                is_operator=is_operator,
            )
            await session.flush()
        await session.commit()
    await database.dispose()


async def run(args: argparse.Namespace) -> None:
    workdir: Path = args.workdir
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    redis_server = RedisServer(data_dir=workdir / "redis")
    redis_server.start()
    database_url = f"sqlite+aiosqlite:///{(workdir / 'data' / 'ailawyer.sqlite3').resolve()}"
    await asyncio.to_thread(upgrade, database_url)
    stamp = int(time.time())
    email, kanzlei_email = f"bench{stamp}@bench.example", f"kanzlei{stamp}@bench.example"
    await create_admins(database_url, kanzlei_email, email)
    settings = Settings(
        _env_file=None,
        environment=Environment.DEVELOPMENT,
        redis_url=redis_server.url,
        redis_key_prefix=PREFIX,
        data_dir=workdir / "data",
    )
    redis = create_redis(redis_server.url)
    queues = JobQueues(redis, settings)
    server: AilawyerProcess | None = None
    try:
        filled = await fill(queues, args.jobs)
        queue = queues.queue(QUEUE)
        counts = await read_counts(queue)
        middle = dokument_job_id(args.jobs // 2)
        keys, memory = await redis.dbsize(), (await redis.info("memory"))["used_memory"]
        print(
            f"{counts.counts['completed']:,} completed jobs"
            + (f" (filled in {filled:.0f} s)" if filled else " (kept from an earlier run)")
            + f"; Redis: {keys:,} keys, {memory / 2**20:,.0f} MiB",
            file=sys.stderr,
        )
        search = JobSearch(redis)
        deep = args.jobs // PER_PAGE // 2  # a page in the middle of the list
        base = f"/admin/jobs/queues/{QUEUE}"

        def searching(
            text: str, cursor: SearchCursor | None = None, seconds: float = SEARCH_SECONDS
        ) -> Call:
            query = SearchQuery.parse(text)
            return lambda: search.search(queue, counts, query, cursor=cursor, seconds=seconds)

        def kanzlei_list(kanzlei_id: int, query: SearchQuery, states: tuple[str, ...]) -> Call:
            return lambda: search.search(
                queue,
                counts,
                query,
                states=states,
                kanzlei_id=kanzlei_id,
                limit=PER_PAGE if len(states) == 1 else SEARCH_RESULTS,
            )

        uncached = KanzleiCounts(queues.redis, queues.queue, seconds=0)

        # (name, direct call or None, HTTP path or None, slow: fewer requests)
        cases: list[tuple[str, Call | None, str | None, bool]] = [
            ("counts of one queue", lambda: read_counts(queue), None, False),
            ("queue discovery (SCAN of every key)", queues.discover, None, False),
            (
                "counts of all queues (names from the last scan)",
                lambda: read_queues(queues, [], fresh=False),
                "/admin/jobs/counts",
                False,
            ),
            (
                "list: first page",
                lambda: read_job_page(queue, "completed", args.jobs, 1),
                f"{base}/list?status=completed",
                False,
            ),
            (
                f"list: page {deep:,} of {args.jobs // PER_PAGE:,}",
                lambda: read_job_page(queue, "completed", args.jobs, deep),
                f"{base}/list?status=completed&seite={deep}",
                False,
            ),
            ("search: a job id", searching(middle), f"{base}/list?q={middle}", False),
            (
                "search: field value akteId=123 (500 matches)",
                searching("akteId=123"),
                f"{base}/list?q=akteId%3D123",
                False,
            ),
            (
                "search: digits in a payload, no time limit (dokumentId 12345)",
                searching("12345", SearchCursor("active", 0), math.inf),
                None,
                True,
            ),
            (
                "search: text found nowhere",
                searching("gibt-es-nicht"),
                f"{base}/list?q=gibt-es-nicht",
                True,
            ),
            (
                "search: text found nowhere, no time limit",
                searching("gibt-es-nicht", seconds=math.inf),
                None,
                True,
            ),
            ("page: /admin/jobs (scans for queues)", None, "/admin/jobs", False),
            ("page: queue, first page of completed", None, f"{base}?status=completed", False),
            ("page: one job", None, f"{base}/jobs/{middle}", False),
        ]
        # As the ADMIN of Kanzlei 1 (a tenth of the jobs); the census is what its counts cost.
        kanzlei_cases: list[tuple[str, Call | None, str | None, bool]] = [
            (
                "Kanzlei counts: census of the queue (every job read, all Kanzleien at once)",
                lambda: uncached.census(QUEUE),
                None,
                True,
            ),
            (
                "Kanzlei counts while the census is reused (`/admin/jobs/counts`)",
                lambda: queues.kanzlei_counts.counts(QUEUE, KANZLEI),
                "/admin/jobs/counts",
                False,
            ),
            (
                "Kanzlei list: first page of completed",
                kanzlei_list(KANZLEI, SearchQuery.every_job(), ("completed",)),
                f"{base}/list?status=completed",
                False,
            ),
            (
                "Kanzlei list: first page, a Kanzlei without jobs (time limit)",
                kanzlei_list(NO_JOBS_KANZLEI, SearchQuery.every_job(), ("completed",)),
                None,
                True,
            ),
            (
                "Kanzlei search: field value akteId=1 (500 matches)",
                kanzlei_list(KANZLEI, SearchQuery.parse("akteId=1"), SEARCH_STATES),
                f"{base}/list?q=akteId%3D1",
                False,
            ),
            (
                "Kanzlei search: text found nowhere",
                kanzlei_list(KANZLEI, SearchQuery.parse("gibt-es-nicht"), SEARCH_STATES),
                f"{base}/list?q=gibt-es-nicht",
                True,
            ),
            ("Kanzlei page: /admin/jobs", None, "/admin/jobs", False),
            ("Kanzlei page: one job", None, f"{base}/jobs/{dokument_job_id(1)}", False),
        ]
        port = free_port()
        server = start_server(workdir, redis_server.url, port)
        rows = []
        url = f"http://127.0.0.1:{port}"
        async with (
            httpx.AsyncClient(base_url=url, timeout=60) as client,
            httpx.AsyncClient(base_url=url, timeout=60) as kanzlei_client,
        ):
            await log_in(client, email)
            await log_in(kanzlei_client, kanzlei_email)

            def getter(http: httpx.AsyncClient, path: str) -> Call:
                async def get() -> None:
                    accept = "application/json" if path.endswith("counts") else "text/html"
                    response = await http.get(path, headers={"Accept": accept})
                    assert response.status_code == 200, (path, response.status_code)

                return get

            for who, name, call, path, slow in [
                *[(client, *case) for case in cases],
                *[(kanzlei_client, *case) for case in kanzlei_cases],
            ]:
                requests = args.search_requests if slow else args.requests
                detail, direct_cell, http_cell = "", "– | –", "– | –"
                if call is not None:
                    result = await call()
                    if isinstance(result, SearchResult):
                        detail = f"{len(result.rows)} shown, {result.scanned:,} read"
                    direct_cell = summary(await measure(requests, call))
                if path is not None:
                    http_cell = summary(await measure(requests, getter(who, path)))
                rows.append(f"| {name} | {detail} | {requests} | {direct_cell} | {http_cell} |")
        redis_cost = await redis_time_per_job(redis, searching)
    finally:
        if server is not None:
            server.stop()
        await redis.aclose()
        redis_server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.jobs:,} completed jobs in `{QUEUE}`; times in ms\n")
    print("| query | result | N | direct median | direct p95 | HTTP median | HTTP p95 |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\nRedis time per job read by the search script (INFO commandstats, one full scan each):")
    for mode, microseconds in redis_cost.items():
        print(f"- {mode}: {microseconds:.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--search-requests", type=int, default=10)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ailawyer-bench-explorer"
    )
    parser.add_argument("--keep", action="store_true", help="keep Redis for the next run")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
