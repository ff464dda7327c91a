"""/api/health latency while bursts of failed logins (argon2, 64 MiB each) hit the app.

    uv run python -m bench.login_burst [--parallel 30] [--seconds 20] [--keep-address-limit]

Starts an embedded Redis, a fresh PostgreSQL database (BENCH_POSTGRES_URL), one
`ailawyer worker` (so health is "healthy", as in production) and one `ailawyer serve`.
First /api/health is polled alone for `--idle-seconds` ("before"); then, for `--seconds`,
rounds of `--parallel` concurrent logins with distinct unknown e-mail addresses are sent,
each round as soon as the previous one has answered, while /api/health is polled one
request after another ("during"). Unknown e-mails cost a full argon2 check (timing must
not reveal which addresses exist), so each login is as expensive as a wrong password.

All logins come from 127.0.0.1, so the per-address limit would refuse most of them after
its first few dozen without hashing. By default the app runs with that limit lifted
(LOGIN_ADDRESS_MAX_FAILURES very high): every login is then hashed, which is what many
addresses (a botnet) would cause. `--keep-address-limit` measures the default settings.
Results: stdout and bench/out/login_burst.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench.system import bench_system

REPOSITORY = Path(__file__).resolve().parents[1]
OUT = REPOSITORY / "bench" / "out" / "login_burst.json"
LIFTED_LIMIT = "1000000000"
REQUEST_TIMEOUT_SECONDS = 60.0
_CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


@dataclass
class Latencies:
    """Request times in milliseconds and the answers' status codes."""

    samples: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    def summary(self) -> dict[str, float]:
        return {
            "count": len(self.samples),
            "p50_ms": round(statistics.median(self.samples), 1),
            "p99_ms": round(self.percentile(0.99), 1),
            "max_ms": round(max(self.samples), 1),
            "statuses": {str(code): count for code, count in sorted(self.statuses.items())},
        }


async def poll_health(client: httpx.AsyncClient, stop: asyncio.Event) -> Latencies:
    """GET /api/health one request after another until `stop` is set."""
    latencies = Latencies()
    while not stop.is_set():
        started = time.perf_counter()
        response = await client.get("/api/health")
        latencies.samples.append((time.perf_counter() - started) * 1000)
        # A health check that times out answers 503 ("unhealthy"): counted, not fatal.
        latencies.statuses[response.status_code] += 1
    return latencies


async def login_rounds(
    client: httpx.AsyncClient, parallel: int, seconds: float
) -> tuple[Latencies, int]:
    """Rounds of `parallel` failed logins for `seconds`; their latencies and the rounds."""
    page = await client.get("/anmelden")
    match = _CSRF_INPUT.search(page.text)
    assert match, "the login page has no CSRF token"
    token = match.group(1)
    latencies = Latencies()

    async def attempt() -> None:
        started = time.perf_counter()
        response = await client.post(
            "/anmelden",
            data={
                "email": f"niemand-{uuid.uuid4().hex[:12]}@kanzlei.example",
                "password": "falsch-falsch-falsch",
                "_csrf_token": token,
            },
        )
        latencies.samples.append((time.perf_counter() - started) * 1000)
        latencies.statuses[response.status_code] += 1

    rounds = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.gather(*(attempt() for _ in range(parallel)))
        rounds += 1
    return latencies, rounds


async def main(parallel: int, seconds: float, idle_seconds: float, keep_limit: bool) -> dict:
    env = {} if keep_limit else {"LOGIN_ADDRESS_MAX_FAILURES": LIFTED_LIMIT}
    async with bench_system("ailawyer-login-bench-") as system:
        system.start(["worker"], "worker")
        _, port = system.serve(**env)
        base_url = f"http://127.0.0.1:{port}"
        limits = httpx.Limits(max_connections=parallel + 5, max_keepalive_connections=parallel)
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as health,
            httpx.AsyncClient(
                base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
            ) as logins,
        ):
            # Warm-up: connections, templates, the first argon2 of the process.
            for _ in range(20):
                await health.get("/api/health")
            await login_rounds(logins, 2, 0)

            stop = asyncio.Event()
            before_task = asyncio.create_task(poll_health(health, stop))
            await asyncio.sleep(idle_seconds)
            stop.set()
            before = await before_task

            stop = asyncio.Event()
            during_task = asyncio.create_task(poll_health(health, stop))
            login_latencies, rounds = await login_rounds(logins, parallel, seconds)
            stop.set()
            during = await during_task
    return {
        "parallel": parallel,
        "seconds": seconds,
        "address_limit": "default" if keep_limit else "lifted",
        "health_before": before.summary(),
        "health_during": during.summary(),
        "logins": {
            **login_latencies.summary(),
            "rounds": rounds,
            "per_second": round(len(login_latencies.samples) / seconds, 1),
        },
    }


def report(result: dict) -> None:
    print(
        f"{result['parallel']} parallel failed logins, {result['seconds']:.0f} s, "
        f"per-address limit {result['address_limit']}"
    )
    for name in ("health_before", "health_during"):
        row = result[name]
        print(
            f"/api/health {name.removeprefix('health_'):6}  n={row['count']:5}  "
            f"p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms  "
            f"max {row['max_ms']:7.1f} ms  answers {row['statuses']}"
        )
    logins = result["logins"]
    print(
        f"logins  n={logins['count']} in {logins['rounds']} rounds ({logins['per_second']}/s)  "
        f"p50 {logins['p50_ms']:.0f} ms  p99 {logins['p99_ms']:.0f} ms  "
        f"answers {logins['statuses']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--parallel", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--keep-address-limit", action="store_true")
    args = parser.parse_args()
    outcome = asyncio.run(
        main(args.parallel, args.seconds, args.idle_seconds, args.keep_address_limit)
    )
    report(outcome)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(outcome, indent=2) + "\n")
