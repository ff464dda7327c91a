"""Notification latency over Socket.IO, memory per idle connection, connections per process.

    uv run python -m bench.realtime_latency --rate 100 --seconds 30 --tiers 1,1000,5000

Starts an embedded Redis, a fresh PostgreSQL database (BENCH_POSTGRES_URL, default the local
server as the tests use it) and one `ailawyer serve` process, all in a temporary directory,
then for each tier of connected clients:

1. connects clients (one user and one session each) until the tier is reached, and reads
   the app process's resident memory before and after;
2. runs bench/realtime_producer.py in a process of its own: `--rate` notifications per
   second for `--seconds`, each to a random connected user, created with the notification
   service and its write-only emitter, exactly as the worker does;
3. records, per notification, the time from just before creating it in the producer to
   the frame parsed in the client (both read CLOCK_MONOTONIC), and counts any not received;
4. repeats 2-3 with `--mode emit` (the same event through the emitter, no database), which
   shows how much of the latency is the real-time path and how much the commit;
5. reads the app process's garbage-collector pauses (`ailawyer_gc_pause_seconds` in its
   /metrics) before and after each row: full collections, their total and longest pause;
6. holds the connections idle for 30 s: the app process's CPU and the session TTL reads
   (PTTL) per second.

The clients are raw WebSocket connections speaking Engine.IO 4 / Socket.IO 5 (the frames
socket.io-client sends: open, "40" connect, ping/pong, "42" events), all in this one
process; they offer permessage-deflate like browsers do. Results go to stdout and to
bench/out/realtime_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from bench.system import bench_system
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select
from tests.conftest import process_env
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.db.models import Kanzlei, User
from ailawyer.domain.roles import Role
from ailawyer.services import Services

REPOSITORY = Path(__file__).resolve().parents[1]
OUT = REPOSITORY / "bench" / "out" / "realtime_latency.json"
CONNECT_CONCURRENCY = 100
HANDSHAKE_TIMEOUT_SECONDS = 60
SETTLE_SECONDS = 3.0
STRAGGLER_SECONDS = 10.0
IDLE_SAMPLE_SECONDS = 30.0
METRICS_TOKEN = "bench-metrics-token"
FULL_COLLECTION = "2"


@dataclass
class Inbox:
    """Latency per notification number, as the clients parsed them."""

    latency_ms: dict[int, float] = field(default_factory=dict)
    duplicates: int = 0
    expected: int | None = None
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, data: dict[str, Any], now_ns: int) -> None:
        number = data["data"]["bench"]
        if number in self.latency_ms:
            self.duplicates += 1
        else:
            self.latency_ms[number] = (now_ns - data["data"]["t0"]) / 1e6
        self.check()

    def check(self) -> None:
        if self.expected is not None and len(self.latency_ms) >= self.expected:
            self.complete.set()


class Client:
    """One browser tab's worth of Socket.IO: handshake with the session cookie, pong, events."""

    def __init__(self, ws_url: str, token: str, inbox: Inbox) -> None:
        self.ws_url = ws_url
        self.token = token
        self.inbox = inbox
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.closed_by_server = False

    async def connect(self) -> None:
        self.ws = await connect(
            self.ws_url,
            additional_headers={"Cookie": f"{SESSION_COOKIE}={self.token}"},
            # Engine.IO pings on its own; no WebSocket-level pings on top, as in browsers.
            ping_interval=None,
            open_timeout=60,
        )
        opened = await self.ws.recv()
        assert isinstance(opened, str) and opened.startswith("0"), opened
        await self.ws.send("40")
        while (answer := await self.ws.recv()) == "2":
            await self.ws.send("3")
        if not (isinstance(answer, str) and answer.startswith("40")):
            raise RuntimeError(f"refused: {answer!r}")
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for frame in self.ws:
                if frame == "2":
                    await self.ws.send("3")
                elif isinstance(frame, str) and frame.startswith('42["notification"'):
                    now = time.monotonic_ns()
                    _, data = json.loads(frame[2:])
                    self.inbox.record(data, now)
        except ConnectionClosed:
            self.closed_by_server = True

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def rss_mib(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


async def full_collections(base_url: str) -> dict[str, float]:
    """The server's full-collection pause histogram: cumulative count per bucket bound
    ("+Inf" is all of them) and "sum" in seconds."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    response.raise_for_status()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != "ailawyer_gc_pause_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("generation") != FULL_COLLECTION:
                continue
            if sample.name.endswith("_bucket"):
                found[sample.labels["le"]] = sample.value
            elif sample.name.endswith("_sum"):
                found["sum"] = sample.value
    return found


def pauses_between(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Full collections between two readings: how many, total pause, longest (as the
    histogram's smallest bound that holds them all)."""
    count = after["+Inf"] - before["+Inf"]
    bounds = sorted((float(le), le) for le in after if le not in ("+Inf", "sum"))
    longest = next((value for value, le in bounds if after[le] - before[le] == count), math.inf)
    return {
        "gc_full_collections": int(count),
        "gc_full_pause_s_total": round(after["sum"] - before["sum"], 3),
        "gc_full_pause_s_at_most": longest if count else 0.0,
    }


async def session_ttl_reads(services: Services) -> int:
    """PTTL commands Redis has run (how the session guard reads a session's TTL)."""
    stats = await services.redis.info("commandstats")
    return int(stats.get("cmdstat_pttl", {}).get("calls", 0))


async def create_users(services: Services, count: int) -> list[tuple[int, str]]:
    """`count` users of one Kanzlei, each with a session; returns (user id, session token)."""
    async with services.db.session() as db:
        kanzlei = Kanzlei(name="Bench-Kanzlei")
        db.add(kanzlei)
        await db.flush()
        await db.execute(
            insert(User),
            [
                {
                    "kanzlei_id": kanzlei.id,
                    "email": f"nutzer{n}@bench.example",
                    "name": f"Nutzer {n}",
                    # Never used: sessions are created directly, nobody logs in.
                    "password_hash": "-",
                    "role": Role.ANWALT,
                    "aktiv": True,
                    "notification_seq": 0,
                }
                for n in range(count)
            ],
        )
        await db.commit()
        ids = list(await db.scalars(select(User.id).order_by(User.id)))
    return [
        (user_id, await services.sessions.create(user_id, ip=None, user_agent=None))
        for user_id in ids
    ]


async def connect_clients(
    clients: list[Client], people: list[tuple[int, str]], ws_url: str, inbox: Inbox, upto: int
) -> float:
    """Connect new clients until `upto` are connected; returns the seconds it took."""
    started = time.monotonic()
    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(token: str) -> Client:
        async with semaphore:
            client = Client(ws_url, token, inbox)
            await asyncio.wait_for(client.connect(), HANDSHAKE_TIMEOUT_SECONDS)
            return client

    new = await asyncio.gather(*(one(token) for _, token in people[len(clients) : upto]))
    clients.extend(new)
    return time.monotonic() - started


async def run_producer(
    env: dict[str, str], users_file: Path, rate: float, seconds: float, mode: str
) -> dict:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.realtime_producer",
        "--users", str(users_file),
        "--rate", str(rate),
        "--seconds", str(seconds),
        "--mode", mode,
        cwd=REPOSITORY,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=seconds + 120)
    if process.returncode != 0:
        raise RuntimeError(f"producer failed:\n{err.decode()[-4000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def latency_run(
    env: dict[str, str],
    work: Path,
    people: list[tuple[int, str]],
    connected: int,
    rate: float,
    seconds: float,
    mode: str,
    base_url: str,
) -> dict[str, Any]:
    inbox = Inbox()
    for client in CLIENTS[:connected]:
        client.inbox = inbox
    users_file = work / f"users-{connected}.json"
    users_file.write_text(json.dumps([user_id for user_id, _ in people[:connected]]))
    # This process holds thousands of client connections: its own garbage collector
    # must not pause it mid-measurement and be counted as latency of the server.
    gc.collect()
    gc.disable()
    try:
        pauses_before = await full_collections(base_url)
        load_before = os.getloadavg()[0]
        producer = await run_producer(env, users_file, rate, seconds, mode)
        inbox.expected = producer["created"]
        inbox.check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(inbox.complete.wait(), STRAGGLER_SECONDS)
        pauses = pauses_between(pauses_before, await full_collections(base_url))
    finally:
        gc.enable()
    ordered = sorted(inbox.latency_ms.values())
    return {
        "mode": mode,
        "clients": connected,
        "rate_per_s": rate,
        "seconds": seconds,
        "created": producer["created"],
        "received": len(ordered),
        "missing": producer["created"] - len(ordered),
        "duplicates": inbox.duplicates,
        "p50_ms": round(percentile(ordered, 0.50), 1),
        "p90_ms": round(percentile(ordered, 0.90), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "call_p50_ms": producer["call_p50_ms"],
        "call_p99_ms": producer["call_p99_ms"],
        **pauses,
        # Other work on the machine shows up in the tail; this says how busy it was.
        "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


CLIENTS: list[Client] = []


async def main(tiers: list[int], rate: float, seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {"tiers": [], "memory": []}
    async with bench_system("ailawyer-rt-bench-") as system:
        work = system.work
        try:
            people = await create_users(system.services, max(tiers))
            env = process_env(system.settings)
            server, port = system.serve(METRICS_TOKEN=METRICS_TOKEN)
            base_url = f"http://127.0.0.1:{port}"
            ws_url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            await asyncio.sleep(SETTLE_SECONDS)
            results["rss_mib_idle_server"] = round(rss_mib(server.pid), 1)
            for tier in tiers:
                before = rss_mib(server.pid)
                already = len(CLIENTS)
                took = await connect_clients(CLIENTS, people, ws_url, Inbox(), tier)
                await asyncio.sleep(SETTLE_SECONDS)
                after = rss_mib(server.pid)
                memory = {
                    "from": already,
                    "to": tier,
                    "connect_seconds": round(took, 1),
                    "rss_before_mib": round(before, 1),
                    "rss_after_mib": round(after, 1),
                    "kib_per_connection": round((after - before) * 1024 / (tier - already), 1),
                }
                results["memory"].append(memory)
                print(json.dumps(memory), flush=True)
                for mode in ("notify", "emit"):
                    tier_result = await latency_run(
                        env, work, people, tier, rate, seconds, mode, base_url
                    )
                    results["tiers"].append(tier_result)
                    print(json.dumps(tier_result), flush=True)
            # What holding the connections costs when nothing happens (pings, session checks).
            process = psutil.Process(server.pid)
            process.cpu_percent()
            ttl_reads = await session_ttl_reads(system.services)
            await asyncio.sleep(IDLE_SAMPLE_SECONDS)
            results["server_cpu_percent_idle"] = round(process.cpu_percent(), 1)
            results["session_ttl_reads_per_s_idle"] = round(
                (await session_ttl_reads(system.services) - ttl_reads) / IDLE_SAMPLE_SECONDS, 1
            )
            results["server_rss_mib_final"] = round(rss_mib(server.pid), 1)
            results["clients_still_connected"] = sum(
                1 for client in CLIENTS if not client.closed_by_server
            )
        finally:
            for client in CLIENTS:
                await client.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="notifications per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="per tier")
    parser.add_argument("--tiers", default="1,1000,5000", help="connected clients per run")
    arguments = parser.parse_args()
    tiers = [int(t) for t in arguments.tiers.split(",")]
    # A stopped run still stops its server and Redis and drops its database.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    random.seed(1)
    outcome = asyncio.run(main(tiers, arguments.rate, arguments.seconds))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(outcome, indent=2) + "\n")
    print(json.dumps(outcome, indent=2))
