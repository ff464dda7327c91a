"""Alerts to the operators: an incident is announced once when it starts and once when it ends.

The installation here is a whole one of its own: a fresh PostgreSQL database, a Redis key
prefix, two `ailawyer serve` processes that evaluate (the run's other app and worker share
neither, so nobody else's alerts can reach its people) and a real worker process that is
stopped and started again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import create_postgres_database, drop_postgres_database, process_env
from tests.support.factories import Factory
from tests.support.http import logged_in
from tests.support.jobs import isolated, job_services, wait_until
from tests.support.personas import build_admin, build_operator
from tests.support.processes import AilawyerProcess
from tests.support.realtime import AppServer, SocketClient, session_token
from tests.support.runtime_settings import wait_until_applied
from tests.support.worker_processes import wait_for_workers

from ailawyer.alerts.loop import AlertLoop
from ailawyer.alerts.process_facts import ProcessFactsBoard, local_facts
from ailawyer.config import Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Notification, User
from ailawyer.embedded_redis import RedisServer
from ailawyer.notifications.types import SYSTEM_ALERT
from ailawyer.realtime import events
from ailawyer.runtime_settings.definitions import (
    ALERT_DISK_FREE_PERCENT,
    ALERT_WORKER_MISSING_SECONDS,
)
from ailawyer.services import Services

INTERVAL = 0.3


@pytest.fixture
async def installation(settings: Settings) -> AsyncIterator[Services]:
    """Services of an installation of its own: own database, own key prefix, fast alerts."""
    name = f"ailawyer_alerts_{uuid.uuid4().hex[:8]}"
    url = await create_postgres_database(name)
    try:
        await asyncio.to_thread(upgrade, url)
        async with job_services(
            isolated(settings, database_url=url, alert_interval_seconds=INTERVAL)
        ) as services:
            yield services
    finally:
        await drop_postgres_database(name)


async def alerts_of(services: Services, user: User) -> list[Notification]:
    async with services.db.session() as db:
        rows = await db.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.type == SYSTEM_ALERT.key)
            .order_by(Notification.seq)
        )
        return list(rows.all())


def alert_events(socket: SocketClient) -> list[dict[str, object]]:
    return [data for data in socket.received(events.NOTIFICATION) if data["type"] == "system.alert"]


async def ticks_after(services: Services, moment: float, pids: set[int], ticks: int = 3) -> None:
    """Wait until every app process in `pids` ticked `ticks` times after `moment`: each of
    them had its turns to evaluate (and to announce anything twice)."""
    board = ProcessFactsBoard(services.redis, services.settings.redis_key_prefix)

    async def all_ticked() -> bool:
        facts = await board.current(time.time(), stale_after=60)
        fresh = {f.pid for f in facts if f.at > moment + ticks * INTERVAL}
        return pids <= fresh

    await wait_until(all_ticked, within=10, what=f"{ticks} ticks of every app process")


async def test_a_missing_worker_is_announced_to_operators_once_when_it_starts_and_once_when_it_ends(
    installation: Services, tmp_path: Path, sockets: Callable[[], SocketClient]
) -> None:
    services = installation
    factory = Factory(services.db)
    operator = await build_operator(factory)
    admin = await build_admin(factory)
    env = process_env(services.settings, ALERT_INTERVAL_SECONDS=str(INTERVAL))
    worker = AilawyerProcess(["worker"], env, tmp_path / "worker-1.out")
    apps = [AppServer(env, tmp_path / f"app-{n}.out") for n in (1, 2)]
    try:
        # All start at once; while the worker boots, the default 60 s keep the apps quiet.
        await asyncio.gather(*(asyncio.to_thread(app.start) for app in apps))
        await wait_for_workers(services, 1)
        app_pids = {app.process.pid for app in apps if app.process}
        await services.runtime_settings.set(ALERT_WORKER_MISSING_SECONDS, 1)
        await wait_until_applied(services, {*app_pids, worker.pid}, within=10)
        operator_socket = await sockets().connect(
            apps[0].url, await session_token(apps[0].url, operator.email)
        )
        admin_socket = await sockets().connect(
            apps[1].url, await session_token(apps[1].url, admin.email)
        )

        stopped = time.time()
        worker.stop()

        async def opened() -> list[Notification]:
            return await alerts_of(services, operator)

        (start,) = await wait_until(opened, within=15, what="the incident's start")
        assert start.title == "Störung: Kein Worker für dokumente, system, test"
        assert start.data["incident"] == "workers" and start.data["state"] == "opened"
        assert start.link == "/admin/system" and start.severity == "error"
        # The condition had to last a second (the runtime setting) before it counted.
        assert start.created_at.timestamp() >= stopped + 1
        await operator_socket.wait_for(
            events.NOTIFICATION, lambda data: data["id"] == start.id, within=5
        )
        async with logged_in(apps[1].url, operator) as client:
            page = (await client.get("/admin/system")).text
        assert 'data-incident="workers"' in page and "Kein Worker für dokumente" in page

        worker = AilawyerProcess(["worker"], env, tmp_path / "worker-2.out")

        async def resolved() -> list[Notification] | None:
            rows = await alerts_of(services, operator)
            return rows if len(rows) >= 2 else None

        rows = await wait_until(resolved, within=20, what="the incident's end")
        ended = time.time()
        assert rows[1].title == "Behoben: Kein Worker für dokumente, system, test"
        assert rows[1].data["state"] == "resolved" and rows[1].severity == "success"

        await ticks_after(services, ended, app_pids)
        assert [row.data["state"] for row in await alerts_of(services, operator)] == [
            "opened",
            "resolved",
        ]
        await operator_socket.wait_for(
            events.NOTIFICATION, lambda data: data["id"] == rows[1].id, within=5
        )
        assert [event["data"]["state"] for event in alert_events(operator_socket)] == [
            "opened",
            "resolved",
        ]
        # A Kanzlei's ADMIN runs no installation: told nothing.
        assert await alerts_of(services, admin) == []
        assert alert_events(admin_socket) == []
        async with logged_in(apps[1].url, operator) as client:
            page = (await client.get("/admin/system")).text
        assert 'data-incident="workers"' not in page
    finally:
        worker.stop()
        for app in apps:
            app.stop()


async def test_two_evaluators_at_once_announce_a_start_and_an_end_once(
    installation: Services,
) -> None:
    services = installation
    operator = await build_operator(Factory(services.db))
    await services.runtime_settings.set(ALERT_WORKER_MISSING_SECONDS, 1)
    evaluators = [AlertLoop(services, f"p{n}", "app", lambda: False) for n in (1, 2)]
    now = time.time()

    async def both(at: float) -> list[str]:
        found = await asyncio.gather(*(e.evaluate(at) for e in evaluators))
        return [f"{t.kind}:{t.incident.key}" for transitions in found for t in transitions]

    # No worker at all: first noted, then (a second later) an incident, claimed once.
    assert await both(now) == []
    assert await both(now + 1.5) == ["opened:workers"]
    assert await both(now + 2) == []
    await services.workers.beat("a-worker", {"queues": {"dokumente": {}, "system": {}, "test": {}}})
    assert await both(now + 3) == ["resolved:workers"]
    assert await both(now + 4) == []
    assert [row.data["state"] for row in await alerts_of(services, operator)] == [
        "opened",
        "resolved",
    ]


async def test_redis_without_aof_with_an_evicting_policy_and_near_its_limit_is_announced(
    installation: Services, tmp_path: Path
) -> None:
    server = RedisServer(data_dir=tmp_path / "redis")
    server.start()
    operator = await build_operator(Factory(installation.db))
    async with job_services(installation.settings.model_copy(update={"redis_url": server.url})) as (
        services
    ):
        try:
            redis = services.redis
            await redis.config_set("appendonly", "no")
            # An evicting policy that spares keys without a TTL: with allkeys-lru, the Lua
            # scripts loaded after the limit was set could push Redis over it, evicting the
            # ballast and the memory incident with it.
            await redis.config_set("maxmemory-policy", "volatile-lru")
            # Ballast, so that the 15 % left is room enough for the alerts' own writes.
            await redis.set("ballast", "x" * 8_000_000)
            used = int((await redis.info("memory"))["used_memory"])
            await redis.config_set("maxmemory", int(used / 0.85))
            evaluator = AlertLoop(services, "p1", "app", lambda: False)

            opened = await evaluator.evaluate(time.time())
            assert sorted(t.incident.key for t in opened if t.kind == "opened") == [
                "redis-aof",
                "redis-eviction",
                "redis-memory",
            ]
            titles = {row.title for row in await alerts_of(services, operator)}
            assert titles == {
                "Störung: Redis ohne AOF",
                "Störung: Redis kann Daten verdrängen",
                "Störung: Redis-Speicher fast voll",
            }

            await redis.config_set("appendonly", "yes")
            await redis.config_set("maxmemory-policy", "noeviction")
            await redis.config_set("maxmemory", 0)  # no limit: no memory incident at all
            ended = await evaluator.evaluate(time.time())
            assert sorted(t.incident.key for t in ended if t.kind == "resolved") == [
                "redis-aof",
                "redis-eviction",
                "redis-memory",
            ]
            assert await evaluator.evaluate(time.time()) == []
            assert len(await alerts_of(services, operator)) == 6
        finally:
            server.stop()


async def test_what_only_a_process_sees_is_reported_by_it_and_announced_by_the_evaluator(
    installation: Services,
) -> None:
    services = installation
    operator = await build_operator(Factory(services.db))
    # This machine's disks are far from full: a threshold of 99 % free makes them "short".
    await services.runtime_settings.set(ALERT_DISK_FREE_PERCENT, 99)
    degraded = {"p1": True}
    reporter = AlertLoop(services, "p1", "worker", lambda: degraded["p1"])
    evaluator = AlertLoop(services, "p2", "app", lambda: False)

    await reporter.board.put(
        await asyncio.to_thread(
            local_facts, services.settings, "p1", "worker", reporter.logging_degraded
        )
    )
    opened = await evaluator.tick()  # the lease is free: p2 evaluates
    assert sorted(t.incident.key for t in opened) == ["disk:Protokolle", "disk:Uploads", "logging"]
    logging_incident = next(t.incident for t in opened if t.incident.key == "logging")
    assert "Worker auf" in logging_incident.detail and "Protokollierung gestört" in (
        logging_incident.title
    )

    degraded["p1"] = False
    await services.runtime_settings.set(ALERT_DISK_FREE_PERCENT, 10)
    await reporter.board.put(
        await asyncio.to_thread(
            local_facts, services.settings, "p1", "worker", reporter.logging_degraded
        )
    )
    resolved = await evaluator.evaluate(time.time())
    assert sorted(t.kind for t in resolved) == ["resolved"] * 3
    assert len(await alerts_of(services, operator)) == 6
