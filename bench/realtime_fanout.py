"""5,000 connected clients on one app process; one notification to a role with 1,000 members.

    uv run python -m bench.realtime_fanout --clients 5000 --members 1000 --notifications 10

Reuses bench/realtime_latency.py (its raw Engine.IO/Socket.IO clients, users with sessions,
database and memory helpers): starts an embedded Redis, a fresh PostgreSQL database and
one `ailawyer serve`, connects `--clients` clients (one user and session each; the first
`--members` users have the role SACHBEARBEITER, the rest ANWALT), and reads the app
process's RSS before and after. Then a producer in a process of its own (as the worker
would) notifies the SACHBEARBEITER `--notifications` times per path, `--interval` seconds
apart, the paths taking turns (`--paths`):

- `one-message`: `NotificationService.stage_role` as the product calls it: one row per
  member in one transaction, then one Redis message for all members after the commit,
  which the app process turns into one event per member.
- `per-member`: the path before issue 15, for the side-by-side figures: the same rows,
  then one event per member after the commit, one Redis publish each.

Latency per recipient = from just before the call to the frame parsed by that member's
client (CLOCK_MONOTONIC on both sides).

`--py-spy PATH` samples the app process during the fan-out (bench/profile.py).
Results: stdout and bench/out/realtime_fanout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench import profile
from bench.realtime_latency import (
    METRICS_TOKEN,
    Client,
    connect_clients,
    create_users,
    full_collections,
    pauses_between,
    percentile,
    rss_mib,
)
from bench.system import bench_system
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from tests.conftest import process_env
from tests.support.notifications import notify_role

from ailawyer.config import get_settings
from ailawyer.db.models import User
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services

REPOSITORY = Path(__file__).resolve().parents[1]
OUT = REPOSITORY / "bench" / "out" / "realtime_fanout.json"
ROLE = Role.SACHBEARBEITER
SETTLE_SECONDS = 3.0
STRAGGLER_SECONDS = 30.0
PATHS = ("one-message", "per-member")


@dataclass
class FanoutInbox:
    """Per notification number, each member's latency; same interface as realtime's Inbox."""

    latency_ms: dict[int, list[float]] = field(default_factory=dict)
    expected: int = 0
    seen: set[int] = field(default_factory=set)
    duplicates: int = 0
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, data: dict[str, Any], now_ns: int) -> None:
        if "bench" not in data["data"]:
            return  # a warm-up
        # A row id is one member's copy of one notification.
        if data["id"] in self.seen:
            self.duplicates += 1
            return
        self.seen.add(data["id"])
        number = data["data"]["bench"]
        self.latency_ms.setdefault(number, []).append((now_ns - data["data"]["t0"]) / 1e6)
        if len(self.seen) >= self.expected:
            self.complete.set()


async def notify_per_member(services: Services, kanzlei_id: int, **content: Any) -> None:
    """The path before issue 15: the same rows, then one event per member, one publish each."""
    async with services.db.session() as session:
        stored = await services.notifications.stage_role(session, kanzlei_id, ROLE, **content)
        # A plain commit leaves the one message that `stage_role` staged unsent (outbox.py).
        await session.commit()
    for user_id, notification in stored.items():
        await services.emitter.to_user(user_id).send(events.NOTIFICATION, notification.as_payload())


async def notify(path: str, services: Services, kanzlei_id: int, **content: Any) -> None:
    """One role notification the way `path` sends it."""
    if path == "one-message":
        await notify_role(services.db, services.notifications, kanzlei_id, ROLE, **content)
    else:
        await notify_per_member(services, kanzlei_id, **content)


async def produce(count: int, interval: float, kanzlei_id: int, paths: list[str]) -> None:
    """The producer process: `count` role notifications per path, the paths taking turns;
    prints each call's duration per path."""
    services = Services.create(get_settings())
    calls: dict[str, list[float]] = {path: [] for path in paths}
    try:
        # Untimed, so that no path pays for the producer's first connections and imports.
        for path in paths:
            await notify(path, services, kanzlei_id, type="info", title="Aufwärmen")
            await asyncio.sleep(interval)
        for number in range(count * len(paths)):
            path = paths[number % len(paths)]
            t0 = time.monotonic_ns()
            content: dict[str, Any] = {"type": "info", "title": "Rundschreiben"}
            content["data"] = {"bench": number, "t0": t0}
            await notify(path, services, kanzlei_id, **content)
            calls[path].append((time.monotonic_ns() - t0) / 1e6)
            await asyncio.sleep(max(0.0, interval - calls[path][-1] / 1000))
    finally:
        await services.close()
    print(json.dumps({path: [round(c, 1) for c in ms] for path, ms in calls.items()}), flush=True)


async def run_producer(
    env: dict[str, str], count: int, interval: float, kanzlei: int, paths: list[str]
) -> dict[str, list[float]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.realtime_fanout", "--produce", str(kanzlei),
        "--notifications", str(count), "--interval", str(interval), "--paths", ",".join(paths),
        cwd=REPOSITORY, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    total = (count + 1) * len(paths)
    out, err = await asyncio.wait_for(process.communicate(), timeout=total * interval + 300)
    if process.returncode != 0:
        raise RuntimeError(f"producer failed:\n{err.decode()[-4000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def gc_pauses(base_url: str) -> dict[str, list[float]]:
    """The app process's collections so far, per generation: [count, total seconds]."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    response.raise_for_status()
    found: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name != "ailawyer_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = found.setdefault(sample.labels["generation"], [0.0, 0.0])
            if sample.name.endswith("_count"):
                generation[0] = sample.value
            elif sample.name.endswith("_sum"):
                generation[1] = sample.value
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (load on the machine does not
    inflate it, unlike the latencies)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fanout_figures(latency_ms: dict[int, list[float]], members: int, count: int) -> dict:
    """Per-recipient percentiles and first/last recipient of a set of notifications."""
    every = sorted(ms for latencies in latency_ms.values() for ms in latencies)
    first = sorted(min(latencies) for latencies in latency_ms.values())
    last = sorted(max(latencies) for latencies in latency_ms.values())
    if not every:
        return {"deliveries_expected": members * count, "deliveries_received": 0}
    return {
        "deliveries_expected": members * count,
        "deliveries_received": len(every),
        "per_recipient_p50_ms": round(percentile(every, 0.5), 1),
        "per_recipient_p99_ms": round(percentile(every, 0.99), 1),
        "per_recipient_max_ms": round(every[-1], 1),
        # The first shows the commit (rows for every member), the spread to the last one
        # the emits.
        "first_recipient_median_ms": round(percentile(first, 0.5), 1),
        "last_recipient_median_ms": round(percentile(last, 0.5), 1),
        # Each notification's (first, last) in sending order: one late notification is a
        # whole tenth of the deliveries, so the p99 is often one notification's.
        "first_last_each_ms": [
            [round(min(latency_ms[n]), 1), round(max(latency_ms[n]), 1)] for n in sorted(latency_ms)
        ],
    }


async def main(
    clients_count: int,
    members: int,
    count: int,
    interval: float,
    paths: list[str],
    py_spy: Path | None,
) -> dict[str, Any]:
    results: dict[str, Any] = {"clients": clients_count, "members": members}
    clients: list[Client] = []
    async with bench_system("ailawyer-fanout-bench-") as system:
        services = system.services
        try:
            people = await create_users(services, clients_count)
            member_ids = [user_id for user_id, _ in people[:members]]
            async with services.db.session() as db:
                await db.execute(update(User).where(User.id.in_(member_ids)).values(role=ROLE))
                kanzlei_id = await db.scalar(
                    select(User.kanzlei_id).where(User.id == member_ids[0])
                )
                await db.commit()
            env = process_env(system.settings)
            server, port = system.serve(METRICS_TOKEN=METRICS_TOKEN)
            ws_url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            await asyncio.sleep(SETTLE_SECONDS)
            inbox = FanoutInbox(expected=members * count * len(paths))
            before = rss_mib(server.pid)
            load_before = os.getloadavg()[0]
            # FanoutInbox stands in for realtime_latency's Inbox (the same record() method).
            took = await connect_clients(
                clients,
                people,
                ws_url,
                inbox,
                clients_count,  # type: ignore[arg-type]
            )
            await asyncio.sleep(SETTLE_SECONDS)
            after = rss_mib(server.pid)
            results["memory"] = {
                "rss_idle_mib": round(before, 1),
                "rss_connected_mib": round(after, 1),
                "kib_per_connection": round((after - before) * 1024 / clients_count, 1),
                "connect_seconds": round(took, 1),
                "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
            print(json.dumps(results["memory"]), flush=True)
            sampler = None
            stacks = REPOSITORY / "bench" / "out" / "profile-fanout.raw"
            if py_spy is not None:
                sampler = profile.record(py_spy, server.pid, count * len(paths) * interval, stacks)
            # As in realtime_latency: the client process's own collector must not be
            # counted as the server's latency.
            gc.collect()
            gc.disable()
            load_before = os.getloadavg()[0]
            pauses_before = await full_collections(f"http://127.0.0.1:{port}")
            by_generation_before = await gc_pauses(f"http://127.0.0.1:{port}")
            cpu_before, started = cpu_seconds(server.pid), time.monotonic()
            try:
                producer = await run_producer(env, count, interval, kanzlei_id, paths)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(inbox.complete.wait(), STRAGGLER_SECONDS)
            finally:
                gc.enable()
            cpu_after, ended = cpu_seconds(server.pid), time.monotonic()
            pauses = pauses_between(
                pauses_before, await full_collections(f"http://127.0.0.1:{port}")
            )
            by_generation = await gc_pauses(f"http://127.0.0.1:{port}")
            results["fanout"] = {
                "notifications_per_path": count,
                "duplicates": inbox.duplicates,
                # Of the app process, from the producer's start to the last delivery:
                # warm-ups included, and its background work (room and session checks).
                "app_cpu_seconds": round(cpu_after - cpu_before, 2),
                "app_busy_share": round((cpu_after - cpu_before) / (ended - started), 3),
                "rss_after_mib": round(rss_mib(server.pid), 1),
                "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "clients_still_connected": sum(not c.closed_by_server for c in clients),
                # The app process's full collections meanwhile (each stops every delivery).
                "app_full_collections": pauses,
                # Every generation's: collections and their total pause in ms.
                "app_collections_by_generation": {
                    generation: [
                        int(count - by_generation_before.get(generation, [0, 0])[0]),
                        round((total - by_generation_before.get(generation, [0, 0])[1]) * 1000, 1),
                    ]
                    for generation, (count, total) in sorted(by_generation.items())
                },
            }
            for index, path in enumerate(paths):
                mine = {
                    number: latencies
                    for number, latencies in inbox.latency_ms.items()
                    if number % len(paths) == index
                }
                results["fanout"][path] = {
                    **fanout_figures(mine, members, count),
                    "call_ms": producer[path],
                }
            print(json.dumps(results["fanout"]), flush=True)
            if sampler is not None:
                sampler.wait(timeout=60)
                results["profile"] = profile.summarize(stacks)
                stacks.with_suffix(".txt").write_text(results["profile"] + "\n")
                print(results["profile"], flush=True)
        finally:
            for client in clients:
                await client.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--members", type=int, default=1000, help="users with the role")
    parser.add_argument("--notifications", type=int, default=10, help="role notifications per path")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between them")
    parser.add_argument(
        "--paths",
        default=",".join(PATHS),
        help=f"comma-separated, taking turns: {', '.join(PATHS)}",
    )
    parser.add_argument("--py-spy", type=Path, default=None, help="path of a py-spy binary")
    parser.add_argument("--produce", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    chosen = arguments.paths.split(",")
    if unknown := set(chosen) - set(PATHS):
        parser.error(f"unknown paths: {sorted(unknown)}")
    if arguments.produce is not None:
        asyncio.run(produce(arguments.notifications, arguments.interval, arguments.produce, chosen))
        sys.exit(0)
    outcome = asyncio.run(
        main(
            arguments.clients,
            arguments.members,
            arguments.notifications,
            arguments.interval,
            chosen,
            arguments.py_spy,
        )
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(outcome, indent=2) + "\n")
