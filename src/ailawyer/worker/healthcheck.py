"""`ailawyer healthcheck worker`: is the worker process of this container alive and beating?

The worker serves no HTTP, so its container's healthcheck asks Redis instead: a worker that
hangs (a blocked event loop, a stuck Redis connection) stops sending heartbeats while its
process keeps running, which only this check notices.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ailawyer.config import Settings
from ailawyer.process_registry import ProcessRegistry
from ailawyer.redis_client import create_redis

# Under the compose healthcheck's own timeout (5 s), so the check answers instead of being
# killed: an unreachable Redis then says so.
TIMEOUT_SECONDS = 4.0


async def fresh_local_worker(settings: Settings) -> dict[str, Any] | None:
    """The newest fresh heartbeat of a worker process running here, or None."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")
    redis = create_redis(settings.redis_url)
    try:
        registry = ProcessRegistry(
            redis,
            prefix=settings.redis_key_prefix,
            kind="worker",
            interval_seconds=settings.worker_heartbeat_seconds,
        )
        records = await asyncio.wait_for(registry.alive_here(), TIMEOUT_SECONDS)
    finally:
        await redis.aclose()
    return records[0] if records else None


def describe(record: dict[str, Any] | None) -> str:
    """One German line for the operator reading the container's health log."""
    if record is None:
        return "Kein Worker-Prozess in diesem Container sendet einen Herzschlag."
    age = f"{max(0.0, time.time() - float(record['lastSeen'])):.1f}".replace(".", ",")
    return f"Worker lebt (PID {record['pid']}, letzter Herzschlag vor {age} s)."
