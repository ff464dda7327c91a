"""Catch-up: notifications created while a client was away all appear, exactly once.

These tests own their Redis (to restart it) and their app process (bound to that Redis);
the database is the run's PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.notifications import notify
from tests.support.realtime import AppServer, SocketClient, session_token

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Settings
from ailawyer.domain.roles import Role
from ailawyer.embedded_redis import RedisServer
from ailawyer.notifications.service import NotificationService
from ailawyer.realtime import events
from ailawyer.realtime.emitter import EMIT_TIMEOUT_SECONDS, Emitter, socketio_channel
from ailawyer.redis_client import create_redis
from ailawyer.services import Services


@pytest.fixture
def own_app(settings: Settings, own_redis: RedisServer, tmp_path: Path) -> Iterator[AppServer]:
    server = AppServer(process_env(settings, REDIS_URL=own_redis.url), tmp_path / "serve.out")
    yield server.start()
    server.stop()


@pytest.fixture
async def notifications(
    settings: Settings, own_redis: RedisServer, services: Services
) -> AsyncIterator[NotificationService]:
    """The notification service as the worker has it: write-only emitter on our Redis."""
    emitter = Emitter.write_only(own_redis.url, settings.redis_key_prefix)
    yield NotificationService(emitter)
    await emitter.close()


class Inbox:
    """What a browser tab keeps: each notification once, whichever way it arrived."""

    def __init__(self) -> None:
        self.by_seq: dict[int, dict[str, Any]] = {}
        self.last_seq = 0

    def add(self, notification: dict[str, Any]) -> None:
        self.by_seq.setdefault(notification["seq"], notification)

    async def catch_up(self, http: httpx.AsyncClient) -> None:
        response = await http.get(f"/api/notifications/after/{self.last_seq}")
        assert response.status_code == 200, response.text
        page = response.json()
        for notification in page["items"]:
            self.add(notification)
        self.last_seq = page["last_seq"]


async def subscribed(redis_url: str, channel: str) -> bool:
    """Whether an app process listens on `channel` (again)."""
    redis = create_redis(redis_url)
    try:
        return dict(await redis.pubsub_numsub(channel)).get(channel, 0) >= 1
    finally:
        await redis.aclose()


async def wait_until_subscribed(redis_url: str, channel: str) -> None:
    deadline = time.monotonic() + 15
    while not await subscribed(redis_url, channel):
        assert time.monotonic() < deadline, "the app did not subscribe again"
        await asyncio.sleep(0.1)


async def test_notifications_created_while_disconnected_appear_exactly_once_after_reconnect(
    settings: Settings,
    own_redis: RedisServer,
    own_app: AppServer,
    services: Services,
    notifications: NotificationService,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.ANWALT)
    token = await session_token(own_app.url, user.email)
    inbox = Inbox()
    first = await sockets().connect(own_app.url, token)
    await notify(services.db, notifications, user.id, type="info", title="Eins")
    inbox.add(await first.wait_for(events.NOTIFICATION))
    inbox.last_seq = 1

    await first.close()
    await notify(services.db, notifications, user.id, type="info", title="Zwei")
    own_redis.stop()
    started = time.monotonic()
    await notify(services.db, notifications, user.id, type="info", title="Drei, Redis ist weg")
    assert time.monotonic() - started < EMIT_TIMEOUT_SECONDS + 1, "a dead Redis must not block"
    own_redis.start()
    await notify(services.db, notifications, user.id, type="info", title="Vier")

    # The session outlived the restart (AOF); the same tab reconnects.
    second = await sockets().connect(own_app.url, token)
    await wait_until_subscribed(own_redis.url, socketio_channel(settings.redis_key_prefix))
    await notify(services.db, notifications, user.id, type="info", title="Fünf, live")
    async with httpx.AsyncClient(base_url=own_app.url, timeout=10) as http:
        http.cookies.set(SESSION_COOKIE, token)
        await inbox.catch_up(http)
    inbox.add(await second.wait_for(events.NOTIFICATION))

    assert [n["title"] for n in inbox.by_seq.values()] == [
        "Eins",
        "Zwei",
        "Drei, Redis ist weg",
        "Vier",
        "Fünf, live",
    ]
    assert sorted(inbox.by_seq) == [1, 2, 3, 4, 5]
    assert inbox.last_seq == 5
    # Live delivery works again after the restart, and only once per notification.
    assert [n["seq"] for n in second.received(events.NOTIFICATION)] == [5]


async def test_connected_clients_are_told_to_catch_up_when_redis_returns(
    settings: Settings,
    own_redis: RedisServer,
    own_app: AppServer,
    services: Services,
    notifications: NotificationService,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    token = await session_token(own_app.url, user.email)
    socket = await sockets().connect(own_app.url, token)

    own_redis.stop()
    missed = await notify(
        services.db, notifications, user.id, type="info", title="Während der Pause"
    )
    own_redis.start()

    # The socket stayed up; its app process noticed the gap in its subscription.
    await socket.wait_for(events.RESYNC, within=15)
    assert socket.connected
    assert socket.received(events.NOTIFICATION) == []
    inbox = Inbox()
    async with httpx.AsyncClient(base_url=own_app.url, timeout=10) as http:
        http.cookies.set(SESSION_COOKIE, token)
        await inbox.catch_up(http)
    assert list(inbox.by_seq) == [missed.seq]


async def test_a_cursor_the_server_cannot_serve_is_answered_with_409(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    await login(client, user.email)
    await notify(services.db, services.notifications, user.id, type="info", title="Eins")

    ahead = await client.get("/api/notifications/after/7")
    async with services.db.session() as db:
        row = await db.get(type(user), user.id)
        row.notification_seq = 10_000
        await db.commit()
    behind = await client.get("/api/notifications/after/1")

    assert ahead.status_code == 409
    assert ahead.json()["detail"] == "cursor_invalid"
    assert behind.status_code == 409


async def test_catch_up_lists_everything_after_the_cursor_except_dismissed(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    await login(client, user.email)
    created = [
        await notify(services.db, services.notifications, user.id, type="info", title=f"Nr. {n}")
        for n in range(1, 6)
    ]
    async with services.db.session() as session:
        await services.notifications.dismiss(session, user.id, created[4].id)

    page = (await client.get("/api/notifications/after/2")).json()

    assert [n["seq"] for n in page["items"]] == [3, 4]
    # The cursor moves past the dismissed one, so it is not asked for again.
    assert page["last_seq"] == 5
