"""HTTP throughput and tail latency with wrk: the dashboard, the notification list, /api/health.

    apt-get install -y wrk      # once (Debian's package; `make bench-tools` does it as root)
    uv run python -m bench.http_load --seconds 20 --connections 32

Starts an embedded Redis, a fresh PostgreSQL database (BENCH_POSTGRES_URL, default the
local server as the tests use it), one `ailawyer worker` (so /api/health reports
"healthy", as in production) and one, then two `ailawyer serve` processes. A signed-in
ANWALT with 12 Akten and 60 notifications is the user; wrk sends that session's cookie
(and a CSRF cookie, as a browser would after its first page) with every request.

Two app processes: wrk can only talk to one address, so two wrk processes run at the
same time, one per app port, each with half the connections (what a round-robin load
balancer would do, without a balancer's own cost). Requests per second are their sum;
p50/p99 are the higher of the two.

`--py-spy PATH` also samples the one app process during each endpoint's run and prints
where its time goes (see bench/profile.py). Results: stdout and bench/out/http_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from bench import profile
from bench.system import bench_system
from tests.support.processes import AilawyerProcess

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
    load: str = ""  # the machine's 1-minute load average before → after

    def line(self) -> str:
        return (
            f"| {self.endpoint} | {self.apps} | {self.connections} | {self.requests:,} "
            f"| {self.requests_per_second:,.0f} | {self.p50_ms:.1f} | {self.p99_ms:.1f} "
            f"| {self.errors} | {self.load} |"
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


def measure(
    endpoint: str, path: str, ports: list[int], connections: int, seconds: float, cookie: str
) -> Row:
    """One wrk per app port at the same time; the sums and the worse tail."""
    for port in ports:
        # wrk counts a redirect (e.g. to the login page) as success: check the answer first.
        answer = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie}, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}, not 200")
    for process in [wrk(f"http://127.0.0.1:{p}{path}", 4, WARMUP_SECONDS, cookie) for p in ports]:
        process.communicate(timeout=WARMUP_SECONDS + 30)
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
        await services.notifications.notify_user(
            user.id, type="info", title=f"Dokument {number} verarbeitet", message="Bench"
        )
    token = await services.sessions.create(user.id, ip=None, user_agent="wrk")
    return f"{SESSION_COOKIE}={token}"


def csrf_cookie(base_url: str) -> str:
    """The CSRF cookie a browser holds after its first page (saves a token per request)."""
    response = httpx.get(f"{base_url}/anmelden", timeout=10)
    return f"csrftoken={response.cookies['csrftoken']}"


async def main(seconds: float, connections: int, py_spy: Path | None) -> list[Row]:
    rows: list[Row] = []
    async with bench_system("ailawyer-http-bench-") as system:
        session_cookie = await prepare(system.services)
        system.start(["worker"], "worker")
        apps: list[AilawyerProcess] = []
        ports: list[int] = []
        for count in (1, 2):
            while len(apps) < count:
                app, port = system.serve()
                apps.append(app)
                ports.append(port)
            cookie = f"{session_cookie}; {csrf_cookie(f'http://127.0.0.1:{ports[0]}')}"
            for endpoint, path in ENDPOINTS.items():
                sampler = None
                name = path.strip("/").replace("/", "-") or "dashboard"
                stacks = REPOSITORY / "bench" / "out" / f"profile-http-{name}.raw"
                if py_spy is not None and count == 1:
                    sampler = profile.record(py_spy, apps[0].pid, seconds, stacks)
                load_before = os.getloadavg()[0]
                row = await asyncio.to_thread(
                    measure, endpoint, path, ports, connections, seconds, cookie
                )
                row.load = f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"
                rows.append(row)
                print(row.line(), flush=True)
                if sampler is not None:
                    sampler.wait(timeout=60)
                    summary = profile.summarize(stacks)
                    stacks.with_suffix(".txt").write_text(summary + "\n")
                    print(summary, flush=True)
                await asyncio.sleep(2)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint and setup")
    parser.add_argument("--connections", type=int, default=32, help="in total")
    parser.add_argument("--py-spy", type=Path, default=None, help="path of a py-spy binary")
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk (or `make bench-tools` as root)")
    outcome = asyncio.run(main(arguments.seconds, arguments.connections, arguments.py_spy))
    print(
        "| endpoint | app processes | connections | requests | req/s | p50 ms | p99 ms "
        "| errors | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in outcome:
        print(row.line())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps([asdict(row) for row in outcome], indent=2) + "\n")
