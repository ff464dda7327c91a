"""Health of the services a process depends on, as `/api/health` and the system page report it.

`check_health` gives the operator's view: each failing service with its reason (an
exception text, which may name a host, a port or a user). `public_report` is what anyone
may see: states and latencies only.

`logging` is whether log lines are being dropped (a full log disk): in the process that
answers, or in a worker by its heartbeat. It makes the report "degraded", never
"unhealthy": the system keeps serving, only its log has gaps.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from redis.asyncio import Redis
from sqlalchemy import text

from ailawyer.db.session import Database
from ailawyer.logs import LoggingStatus, logging_status
from ailawyer.process_registry import ProcessRegistry

CHECK_TIMEOUT_SECONDS = 2.0

ServiceStatus = Literal["up", "degraded", "down"]


async def _timed(check: Any) -> tuple[ServiceStatus, float, str | None]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # any failure of a dependency means "down", with its reason
        detail = type(error).__name__ if isinstance(error, TimeoutError) else str(error)[:200]
        return "down", _ms_since(started), detail or type(error).__name__
    return "up", _ms_since(started), None


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def check_health(db: Database, redis: Redis, workers: ProcessRegistry) -> dict[str, Any]:
    """Check database, Redis and workers; overall "unhealthy" when database or Redis is down."""

    async def ping_db() -> None:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    db_status, db_ms, db_detail = await _timed(ping_db())
    redis_status, redis_ms, redis_detail = await _timed(redis.ping())

    started = time.perf_counter()
    alive: list[dict[str, Any]] = []
    if redis_status == "up":
        try:
            alive = await asyncio.wait_for(workers.alive(), CHECK_TIMEOUT_SECONDS)
        except Exception:  # Redis trouble after the ping; report no workers rather than fail
            alive = []
    worker: dict[str, Any] = {
        "status": "up" if alive else "down",
        "latencyMs": _ms_since(started),
        "count": len(alive),
        "detail": None if alive else "Kein Worker meldet sich.",
    }

    services: dict[str, dict[str, Any]] = {
        "database": {"status": db_status, "latencyMs": db_ms, "detail": db_detail},
        "redis": {"status": redis_status, "latencyMs": redis_ms, "detail": redis_detail},
        "worker": worker,
    }
    logging = _logging_report(alive)
    if db_status == "down" or redis_status == "down":
        status = "unhealthy"
    elif worker["status"] != "up" or logging["status"] != "up":
        status = "degraded"
    else:
        status = "healthy"
    return {"status": status, "services": services, "logging": logging, "checkedAt": time.time()}


def _logging_report(heartbeats: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """This process and the workers that drop log lines: "degraded" with each, else "up"."""
    own = {"kind": None, "host": socket.gethostname(), "pid": os.getpid()}
    candidates = [(own, logging_status())] + [
        (record, LoggingStatus.from_record(record.get("logging"))) for record in heartbeats
    ]
    troubled = [
        {
            "kind": process["kind"],
            "host": process.get("host"),
            "pid": process.get("pid"),
            "since": status.since,
            "dropped": status.dropped,
            "error": status.error,
        }
        for process, status in candidates
        if status is not None and status.degraded
    ]
    return {"status": "degraded" if troubled else "up", "processes": troubled}


def public_report(report: dict[str, Any]) -> dict[str, Any]:
    """`report` without the reasons: for `/api/health` (no login) and a Kanzlei's ADMIN.

    A reason is an exception text such as "Error 111 connecting to 127.0.0.1:46379"; it
    maps the installation for whoever asks. The operator's system page keeps it.
    """
    services = {
        name: {key: value for key, value in service.items() if key != "detail"}
        for name, service in report["services"].items()
    }
    # Which processes, and their file paths and errors, are the operator's to read.
    return {**report, "services": services, "logging": {"status": report["logging"]["status"]}}
