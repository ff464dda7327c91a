"""Create notifications at a fixed rate from a process of its own, as the worker would.

    python -m bench.realtime_producer --users users.json --rate 100 --seconds 30

Run by bench/realtime_latency.py with the app's environment (DATABASE_URL, REDIS_URL).
Each notification carries the moment just before it was created (CLOCK_MONOTONIC, which
every process on the machine shares) in `data.t0`, so the receiving client can tell the
whole latency: database write and commit, Redis, app process, WebSocket, parse.
Prints one JSON line: how many were created and how long creating one took (transaction,
commit, emit: `tests.support.notifications.notify`).

`--mode emit` skips the database: it sends the same event straight through the emitter,
which isolates the real-time path (Redis, app process, WebSocket) from the commit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

from tests.support.notifications import notify

from ailawyer.config import get_settings
from ailawyer.realtime import events
from ailawyer.services import Services


async def produce(user_ids: list[int], rate: float, seconds: float, mode: str) -> dict[str, object]:
    services = Services.create(get_settings())
    call_ms: list[float] = []
    failures = 0

    async def one(number: int, user_id: int) -> None:
        nonlocal failures
        t0 = time.monotonic_ns()
        try:
            if mode == "emit":
                await services.emitter.to_user(user_id).emit(
                    events.NOTIFICATION, {"data": {"bench": number, "t0": t0}}
                )
            else:
                await notify(
                    services.db,
                    services.notifications,
                    user_id,
                    type="info",
                    title="Messung",
                    data={"bench": number, "t0": t0},
                )
        except Exception:
            failures += 1
            return
        call_ms.append((time.monotonic_ns() - t0) / 1e6)

    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    try:
        # Open loop: each notification is due at its slot, however long earlier ones take.
        for number in range(total):
            delay = started + number / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number, random.choice(user_ids))))
        await asyncio.gather(*tasks)
    finally:
        await services.close()
    call_ms.sort()
    return {
        "created": len(call_ms),
        "failures": failures,
        "elapsed_s": round(time.monotonic() - started, 2),
        "call_p50_ms": round(call_ms[len(call_ms) // 2], 2) if call_ms else None,
        "call_p99_ms": round(call_ms[int(len(call_ms) * 0.99)], 2) if call_ms else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=Path, required=True, help="JSON list of user ids")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mode", choices=["notify", "emit"], default="notify")
    arguments = parser.parse_args()
    ids = json.loads(arguments.users.read_text())
    outcome = asyncio.run(produce(ids, arguments.rate, arguments.seconds, arguments.mode))
    print(json.dumps(outcome), flush=True)
