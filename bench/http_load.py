"""HTTP throughput and tail latency with wrk: the dashboard, the notification list, /api/health.

    apt-get install -y wrk      # once (Debian's package; `make bench-tools` does it as root)
    uv run python -m bench.http_load --seconds 20 --connections 32

Starts an embedded Redis, a fresh PostgreSQL database (BENCH_POSTGRES_URL, default the
local server as the tests use it), one `ailawyer worker` (so /api/health reports
"healthy", as in production) and one, then two `ailawyer serve` processes. A signed-in
ANWALT with 12 Akten and 60 notifications is the user; wrk sends that session's cookie
(and a CSRF cookie, as a browser would after its first page) with every request.

The anchor (issue 14): with one app process, bench/http_anchor.py — a minimal Litestar
app on the same stack doing the same reads — runs as its own uvicorn process against the
same database and Redis, and its page and JSON are measured right after our dashboard
and notification list, with the same connections and duration (`--rounds N`: N such
pairs, alternating, against drifts of the machine's load); the ratios ours/anchor close
the output, in requests per second and in CPU time per request.

Two app processes: wrk can only talk to one address, so two wrk processes run at the
same time, one per app port, each with half the connections (what a round-robin load
balancer would do, without a balancer's own cost). Requests per second are their sum;
p50/p99 are the higher of the two.

Every row also counts the bench database's transactions per request (PostgreSQL's
`pg_stat_database` before and after the run). Rolled back: every read-only session
(SQLAlchemy ends a session that did not commit with ROLLBACK) and every pool pre-ping
(SQLAlchemy's asyncpg ping runs `;` in a transaction it rolls back), so a session with
pre-ping counts 2. Committed: writes, and pings on autocommit connections. PostgreSQL
publishes a busy backend's counts about once a second, so these are good to about ±5 %
with 20 s rows. CPU ms/req: user and system time of the measured server processes
(psutil) per request, which depends far less on other work on the machine than req/s.

`--py-spy PATH` also samples the one app process (and the anchor) during each endpoint's
run and prints where its time goes (see bench/profile.py). Results: stdout and
bench/out/http_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
from bench import profile
from bench.system import POSTGRES_ADMIN_URL, BenchSystem, bench_system
from tests.support.notifications import notify
from tests.support.ports import free_port
from tests.support.processes import wait_for_http

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.db.models import Akte, Kanzlei, User
from ailawyer.domain.roles import Role
from ailawyer.services import Services

REPOSITORY = Path(__file__).resolve().parents[1]
OUT = REPOSITORY / "bench" / "out" / "http_load.json"
ENDPOINTS = {
    "dashboard (logged in)": "/",
    "notification list API": "/api/notifications",
    "/api/health": "/api/health",
}
# Our endpoint → the anchor's peer (bench/http_anchor.py serves both under the same paths).
ANCHOR_PEERS = {
    "dashboard (logged in)": "anchor: page",
    "notification list API": "anchor: notification JSON",
}
AKTEN = 12
NOTIFICATIONS = 60
WARMUP_SECONDS = 3
WRK_THREADS_PER_PROCESS = 1
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class Row:
    endpoint: str
    apps: int
    connections: int
    seconds: float
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and non-2xx answers together
    body_bytes: int = 0  # of one answer
    load: str = ""  # the machine's 1-minute load average before → after
    # Database transactions per request: rolled back (sessions and pre-pings), committed.
    rollbacks_per_request: float = 0.0
    commits_per_request: float = 0.0
    cpu_ms_per_request: float = 0.0  # user + system time of the measured server processes

    def line(self) -> str:
        return (
            f"| {self.endpoint} | {self.apps} | {self.connections} | {self.requests:,} "
            f"| {self.requests_per_second:,.0f} | {self.p50_ms:.1f} | {self.p99_ms:.1f} "
            f"| {self.errors} | {self.body_bytes:,} | {self.rollbacks_per_request:.1f} "
            f"| {self.commits_per_request:.1f} | {self.cpu_ms_per_request:.2f} | {self.load} |"
        )


HEADER = (
    "| endpoint | app processes | connections | requests | req/s | p50 ms | p99 ms | errors "
    "| body bytes | DB rollbacks/req | DB commits/req | CPU ms/req | load |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """Requests, requests/s, p50, p99 and errors from `wrk --latency` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)\s*$", output, re.MULTILINE))
    requests = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if not (requests and rate and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return {
        "requests": int(requests.group(1)),
        "rps": float(rate.group(1)),
        "p50": _ms(percentiles["50"]),
        "p99": _ms(percentiles["99"]),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(int(n) for n in socket.groups()) if socket else 0),
    }


def wrk(url: str, connections: int, seconds: float, cookie: str) -> subprocess.Popen[str]:
    command = [
        "wrk", "--latency", "-t", str(WRK_THREADS_PER_PROCESS), "-c", str(connections),
        "-d", f"{round(seconds)}s", "--timeout", "10s", "-H", f"Cookie: {cookie}", url,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def warm_up(path: str, ports: list[int], cookie: str) -> int:
    """Check that every port answers 200, then a short wrk run; returns one answer's size.

    wrk counts a redirect (e.g. to the login page) as success: the check comes first.
    """
    size = 0
    for port in ports:
        answer = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie}, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} on port {port} answered {answer.status_code}, not 200")
        size = len(answer.content)
    for process in [wrk(f"http://127.0.0.1:{p}{path}", 4, WARMUP_SECONDS, cookie) for p in ports]:
        process.communicate(timeout=WARMUP_SECONDS + 30)
    return size


def measure(
    endpoint: str, path: str, ports: list[int], connections: int, seconds: float, cookie: str
) -> Row:
    """One wrk per app port at the same time; the sums and the worse tail."""
    each = max(1, connections // len(ports))
    running = [wrk(f"http://127.0.0.1:{p}{path}", each, seconds, cookie) for p in ports]
    results = [parse_wrk(p.communicate(timeout=seconds + 60)[0]) for p in running]
    return Row(
        endpoint=endpoint,
        apps=len(ports),
        connections=each * len(ports),
        seconds=seconds,
        requests=sum(int(r["requests"]) for r in results),
        requests_per_second=sum(r["rps"] for r in results),
        p50_ms=max(r["p50"] for r in results),
        p99_ms=max(r["p99"] for r in results),
        errors=sum(int(r["errors"]) for r in results),
    )


async def transactions(database: str) -> tuple[int, int]:
    """(rolled back, committed) transactions of `database` so far, as PostgreSQL counts them."""
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        row = await admin.fetchrow(
            "SELECT xact_rollback, xact_commit FROM pg_stat_database WHERE datname = $1",
            database,
        )
    finally:
        await admin.close()
    assert row is not None, database
    return int(row["xact_rollback"]), int(row["xact_commit"])


async def prepare(services: Services) -> str:
    """An ANWALT with Akten and notifications; returns the browser's Cookie header."""
    async with services.db.session() as db:
        kanzlei = Kanzlei(name="Bench-Kanzlei")
        db.add(kanzlei)
        await db.flush()
        user = User(
            kanzlei_id=kanzlei.id,
            email="anwalt@bench.example",
            name="Bench Anwalt",
            role=Role.ANWALT,
            password_hash="-",  # never checked: the session is created directly
            aktiv=True,
            notification_seq=0,
        )
        db.add(user)
        await db.flush()
        for number in range(1, AKTEN + 1):
            db.add(
                Akte(
                    kanzlei_id=kanzlei.id,
                    aktenzeichen=f"{number}/26",
                    kurzrubrum=f"Müller ./. Schmidt {number}",
                    anwalt_id=user.id,
                )
            )
        await db.commit()
    for number in range(NOTIFICATIONS):
        await notify(
            services.db,
            services.notifications,
            user.id,
            type="info",
            title=f"Dokument {number} verarbeitet",
            message="Bench",
        )
    token = await services.sessions.create(user.id, ip=None, user_agent="wrk")
    return f"{SESSION_COOKIE}={token}"


def csrf_cookie(base_url: str) -> str:
    """The CSRF cookie a browser holds after its first page (saves a token per request)."""
    response = httpx.get(f"{base_url}/anmelden", timeout=10)
    return f"csrftoken={response.cookies['csrftoken']}"


@contextmanager
def anchor(system: BenchSystem) -> Iterator[tuple[int, int]]:
    """bench/http_anchor.py on a free port against the system's database and Redis.

    Yields (pid, port); output in `<work>/anchor.out`.
    """
    settings = system.settings
    port = free_port()
    output = system.work / "anchor.out"
    command = [
        sys.executable, "-m", "bench.http_anchor", "--port", str(port),
        "--database-url", settings.effective_database_url,
        "--redis-url", str(settings.redis_url),
        "--redis-prefix", settings.redis_key_prefix,
        "--idle-seconds", str(settings.session_idle_minutes * 60),
        "--absolute-seconds", str(settings.session_absolute_hours * 3600),
    ]  # fmt: skip
    with output.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            try:
                wait_for_http(f"http://127.0.0.1:{port}/")  # 401 without a cookie
            except TimeoutError as error:
                raise RuntimeError(f"the anchor did not start:\n{output.read_text()}") from error
            yield process.pid, port
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes `pids` used so far, together."""
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)


async def run_row(
    system: BenchSystem,
    endpoint: str,
    path: str,
    servers: list[tuple[int, int]],
    arguments: argparse.Namespace,
    cookie: str,
    profile_name: str | None = None,
) -> Row:
    """Measure one row against `servers` ((pid, port) each).

    `profile_name`: with --py-spy, sample the first server into profile-http-<name>.raw.
    """
    pids, ports = [pid for pid, _ in servers], [port for _, port in servers]
    sampler = stacks = None
    database = system.settings.effective_database_url.rsplit("/", 1)[1]
    body_bytes = await asyncio.to_thread(warm_up, path, ports, cookie)
    if arguments.py_spy is not None and profile_name is not None:
        stacks = REPOSITORY / "bench" / "out" / f"profile-http-{profile_name}.raw"
        sampler = profile.record(arguments.py_spy, pids[0], arguments.seconds, stacks)
    load_before = os.getloadavg()[0]
    before, cpu_before = await transactions(database), cpu_seconds(pids)
    row = await asyncio.to_thread(
        measure, endpoint, path, ports, arguments.connections, arguments.seconds, cookie
    )
    after, cpu_after = await transactions(database), cpu_seconds(pids)
    row.body_bytes = body_bytes
    row.load = f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"
    row.rollbacks_per_request = (after[0] - before[0]) / row.requests
    row.commits_per_request = (after[1] - before[1]) / row.requests
    row.cpu_ms_per_request = 1000 * (cpu_after - cpu_before) / row.requests
    print(row.line(), flush=True)
    if sampler is not None and stacks is not None:
        sampler.wait(timeout=60)
        summary = profile.summarize(stacks)
        stacks.with_suffix(".txt").write_text(summary + "\n")
        print(summary, flush=True)
    await asyncio.sleep(2)
    return row


async def main(arguments: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    async with bench_system("ailawyer-http-bench-") as system:
        session_cookie = await prepare(system.services)
        system.start(["worker"], "worker")
        servers: list[tuple[int, int]] = []
        for count in arguments.apps:
            while len(servers) < count:
                app, port = system.serve()
                servers.append((app.pid, port))
            cookie = f"{session_cookie}; {csrf_cookie(f'http://127.0.0.1:{servers[0][1]}')}"
            if count > 1:
                for endpoint, path in ENDPOINTS.items():
                    rows.append(await run_row(system, endpoint, path, servers, arguments, cookie))
                continue
            # One app process: sampled with py-spy if asked; each endpoint with a peer
            # alternates with the anchor's row, `--rounds` times, so both see the same load.
            with anchor(system) as peer_server:
                for endpoint, path in ENDPOINTS.items():
                    name = path.strip("/").replace("/", "-") or "dashboard"
                    peer = ANCHOR_PEERS.get(endpoint)
                    for _ in range(arguments.rounds if peer else 1):
                        ours = (endpoint, path, servers, arguments, cookie, name)
                        rows.append(await run_row(system, *ours))
                        if peer:
                            theirs = (
                                peer,
                                path,
                                [peer_server],
                                arguments,
                                cookie,
                                f"anchor-{name}",
                            )
                            rows.append(await run_row(system, *theirs))
    return rows


def ratios(rows: list[Row]) -> list[str]:
    """Ours / anchor per pair and round, and the median: throughput and CPU per request.

    The CPU ratio (anchor's CPU ms per request / ours) hardly depends on what else the
    machine runs; the throughput ratio does, when the load changes between two rows.
    """
    lines = []
    for ours, peer in ANCHOR_PEERS.items():
        mine = [row for row in rows if row.endpoint == ours and row.apps == 1]
        theirs = [row for row in rows if row.endpoint == peer]
        if not mine or len(mine) != len(theirs):
            continue
        pairs = list(zip(mine, theirs, strict=True))
        rates = [a.requests_per_second / b.requests_per_second for a, b in pairs]
        costs = [b.cpu_ms_per_request / a.cpu_ms_per_request for a, b in pairs]
        rounds = ", ".join(
            f"{a.requests_per_second:,.0f}/{b.requests_per_second:,.0f} = {rate:.2f}x"
            for (a, b), rate in zip(pairs, rates, strict=True)
        )
        lines.append(
            f"{ours} / {peer}: req/s {rounds}; median {statistics.median(rates):.2f}x. "
            f"CPU per request: {', '.join(f'{c:.2f}x' for c in costs)}; "
            f"median {statistics.median(costs):.2f}x"
        )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint and setup")
    parser.add_argument("--connections", type=int, default=32, help="in total")
    parser.add_argument("--py-spy", type=Path, default=None, help="path of a py-spy binary")
    parser.add_argument(
        "--apps",
        type=lambda text: sorted({int(n) for n in text.split(",")}),
        default=[1, 2],
        help="app process counts to measure, e.g. 1 (the anchor runs with 1); default 1,2",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="ours/anchor pairs per endpoint (one process)"
    )
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk (or `make bench-tools` as root)")
    outcome = asyncio.run(main(arguments))
    print(HEADER)
    for row in outcome:
        print(row.line())
    for line in ratios(outcome):
        print(line)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps([asdict(row) for row in outcome], indent=2) + "\n")
