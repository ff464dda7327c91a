"""Log viewer response time for the newest 200 lines of a 1 GiB log file set.

Two file sets of the same size (real bytes, timestamps rising through the files):
- `single`: one process, one 1 GiB file;
- `rotated`: 8 processes, each with `.log` and 9 rotated files (80 files of ~12.8 MiB),
  what LOG_MAX_BYTES/LOG_BACKUP_COUNT produce in production.

For each, three queries, N times each, against the reader function directly and over HTTP
(`ailawyer serve` with an embedded Redis and SQLite, logged in as an admin):
- `newest`: no filter (the page as it opens);
- `errors`: minimum level ERROR, one ERROR line per ~1 MiB (sparse: the budget decides);
- `nothing`: a text that occurs nowhere (the worst case: the whole budget is read).

Run from the repository root: `uv run python -m bench.log_viewer [--size-mib 1024] [--requests 30]`
The page cache is warm (the files were just written or read); see bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.app.web.admin.system.log_reader import LogQuery, read_logs
from ailawyer.config import Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.domain.users import create_user
from ailawyer.embedded_redis import RedisServer

MiB = 1024 * 1024
LINES_PER_MINUTE = 6000  # one block: a minute of a busy process, about 1.5 MiB
START = datetime(2026, 5, 28, tzinfo=UTC)
PLACEHOLDER = b"@@@@@@@@@@@@@@@@"  # "2026-05-28T00:00", replaced per block
PASSWORD = "bench-passwort-42"
QUERIES: dict[str, dict[str, str]] = {
    "newest": {},
    "errors": {"level": "error"},
    "nothing": {"q": "gibt-es-nirgends"},
}


def block_template(process: str, pid: int) -> bytes:
    """A minute of lines (one ERROR among them) with a placeholder for the minute."""
    lines = []
    for index in range(LINES_PER_MINUTE):
        seconds, millis = divmod(index * 60_000 // LINES_PER_MINUTE, 1000)
        level, message = ("error", "job failed for good") if index == 0 else ("info", "request")
        lines.append(
            '{"timestamp": "'
            + PLACEHOLDER.decode()
            + f':{seconds:02d}.{millis:03d}Z", "level": "{level}", "message": "{message}", '
            f'"logger": "ailawyer.http", "process": "{process}", "pid": {pid}, '
            f'"host": "benchhost", "userId": 7, "requestId": "{index:032x}", '
            f'"method": "GET", "path": "/akten/42", "status": 200, "durationMs": 12.5}}'
        )
    return ("\n".join(lines) + "\n").encode()


def minute_stamp(minute: int) -> bytes:
    return (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M").encode()


def write_file(path: Path, template: bytes, first_minute: int, size: int) -> int:
    """Write blocks with rising minutes until `size`; returns the next minute."""
    minute = first_minute
    with path.open("wb") as handle:
        while handle.tell() < size:
            handle.write(template.replace(PLACEHOLDER, minute_stamp(minute)))
            minute += 1
    last = START + timedelta(minutes=minute)
    os.utime(path, (last.timestamp(), last.timestamp()))
    return minute


def build_file_sets(root: Path, size: int) -> dict[str, Path]:
    """The two file sets (kept between runs when their size is right)."""
    sets = {"single": root / "single", "rotated": root / "rotated"}
    for directory in sets.values():
        if directory.exists() and sum(f.stat().st_size for f in directory.iterdir()) >= size:
            continue
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        started = time.perf_counter()
        if directory.name == "single":
            write_file(directory / "app-benchhost-1.log", block_template("app", 1), 0, size)
        else:
            processes, files = 8, 10
            for number in range(processes):
                kind = "app" if number < 2 else "worker"
                template = block_template(kind, 100 + number)
                minute = 0  # the processes run side by side: the same time range each
                for index in range(files - 1, -1, -1):  # oldest rotated file first
                    suffix = f".{index}" if index else ""
                    path = directory / f"{kind}-benchhost-{100 + number}.log{suffix}"
                    minute = write_file(path, template, minute, size // (processes * files))
        print(f"wrote {directory} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return sets


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:8.1f} | {p95 * 1000:8.1f}"


def measure(requests: int, call: Callable[[], Any]) -> list[float]:
    call()  # warm-up: page cache, imports, connections
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def start_server(workdir: Path, log_dir: Path, redis_url: str, port: int) -> AilawyerProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "ENVIRONMENT": "development",
        "SECRET_KEY": "bench-" + "x" * 40,
        "DATA_DIR": str(workdir / "data"),
        "LOG_DIR": str(log_dir),
        "LOG_LEVEL": "WARNING",  # the server's own lines would add to the measured set
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"bench{port}",
    }
    server = AilawyerProcess(["serve", "--port", str(port)], env, workdir / f"serve-{port}.out")
    wait_for_http(f"http://127.0.0.1:{port}/api/health", process=server)
    return server


def log_in(client: httpx.Client, email: str) -> None:
    page = client.get("/anmelden").text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    response = client.post(
        "/anmelden", data={"email": email, "password": PASSWORD, "_csrf_token": token.group(1)}
    )
    assert response.status_code in (302, 303), response.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ailawyer-bench-logs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the files for the next run")
    args = parser.parse_args()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    budget = Settings.model_fields["log_viewer_scan_mb"].default * MiB

    sets = build_file_sets(workdir / "sets", args.size_mib * MiB)
    redis = RedisServer(data_dir=workdir / "redis")
    redis.start()
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    database_url = f"sqlite+aiosqlite:///{(data_dir / 'ailawyer.sqlite3').resolve()}"
    upgrade(database_url)
    email = f"bench{int(time.time())}@bench.example"

    async def create_admin() -> None:
        database = Database(database_url)
        async with database.session() as session:
            await create_user(
                session,
                email=email,
                name="Bench",
                role=Role.ADMIN,
                password=PASSWORD,
                kanzlei_name="Bench",
            )
            await session.commit()
        await database.dispose()

    asyncio.run(create_admin())
    rows = []
    try:
        for name, log_dir in sets.items():
            port = free_port()
            server = start_server(workdir, log_dir, redis.url, port)
            try:
                rows += bench_file_set(name, log_dir, port, email, args.requests, budget)
            finally:
                server.stop()
    finally:
        redis.stop()
        if not args.keep:
            shutil.rmtree(workdir / "sets", ignore_errors=True)

    print(f"N = {args.requests} per row; budget {budget // MiB} MiB; times in ms\n")
    print(
        "| file set | query | entries | MiB read "
        "| direct median | direct p95 | HTTP median | HTTP p95 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


def bench_file_set(
    name: str, log_dir: Path, port: int, email: str, requests: int, budget: int
) -> list[str]:
    """One table row per query: the reader called directly, then the page over HTTP."""
    files = sorted(log_dir.iterdir())
    size = sum(f.stat().st_size for f in files)
    rows = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        log_in(client, email)
        for query_name, params in QUERIES.items():
            query = LogQuery(min_level=params.get("level", "debug"), text=params.get("q"))

            def direct(query: LogQuery = query) -> Any:
                return read_logs(log_dir, query, max_scan_bytes=budget)

            def over_http(params: dict[str, str] = params) -> None:
                response = client.get("/admin/system/logs", params=params)
                assert response.status_code == 200, response.status_code

            page = direct()
            direct_times, http_times = measure(requests, direct), measure(requests, over_http)
            rows.append(
                f"| {name} ({len(files)} file(s), {size / MiB:,.0f} MiB) | {query_name} "
                f"| {len(page.entries)} | {page.scanned_bytes / MiB:,.2f} "
                f"| {summary(direct_times)} | {summary(http_times)} |"
            )
    return rows


if __name__ == "__main__":
    main()
