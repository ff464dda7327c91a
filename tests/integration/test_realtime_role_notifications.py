"""A role's notification: one Redis message, one event per member with its own id and seq.

Real PostgreSQL, a test-owned Redis, two `ailawyer serve` processes and Socket.IO clients.
What Redis carried is read by a subscriber of the Socket.IO channel. That nothing (more)
arrived at a socket is shown with a marker sent afterwards through the same channel: the
app process handles the channel's messages in order, so once the marker is in, an event
sent before it would be in too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.notifications import notify, notify_role
from tests.support.realtime import AppServer, SocketClient, eventually, session_token

from ailawyer.config import Settings
from ailawyer.db.models import User
from ailawyer.domain.roles import Role
from ailawyer.notifications.service import NotificationOut
from ailawyer.realtime import events
from ailawyer.realtime.emitter import socketio_channel
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

MARKER = "marker"


@pytest.fixture(scope="module")
def second_server(settings: Settings, tmp_root: Path) -> Iterator[str]:
    """A second `ailawyer serve` on the same Redis and database, like a scaled deployment."""
    server = AppServer(process_env(settings), tmp_root / "serve-role-notifications.out").start()
    yield server.url
    server.stop()


class ChannelMessages:
    """Every message published on the Socket.IO channel while it listens, decoded."""

    def __init__(self, redis: Redis, channel: str) -> None:
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._channel = channel
        self.messages: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._pubsub.subscribe(self._channel)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self._pubsub.get_message(timeout=1.0)
            if message is not None:
                self.messages.append(json.loads(message["data"]))

    def events(self, name: str, since: int = 0) -> list[dict[str, Any]]:
        """The emits of `name` among the messages from number `since` on."""
        return [
            m for m in self.messages[since:] if m.get("method") == "emit" and m["event"] == name
        ]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._pubsub.aclose()


@pytest.fixture
async def channel(settings: Settings) -> AsyncIterator[ChannelMessages]:
    redis = create_redis(settings.redis_url or "")
    recorder = ChannelMessages(redis, socketio_channel(settings.redis_key_prefix))
    await recorder.start()
    yield recorder
    await recorder.stop()
    await redis.aclose()


async def connected(base_url: str, user: User, sockets: Callable[[], SocketClient]) -> SocketClient:
    return await sockets().connect(base_url, await session_token(base_url, user.email))


async def marked(services: Services, users_sockets: list[tuple[User, SocketClient]]) -> None:
    """Send each user a marker and wait until every one of their sockets has it."""
    for user_id in dict.fromkeys(user.id for user, _ in users_sockets):
        await services.emitter.to_user(user_id).emit(MARKER, {})
    for _, socket in users_sockets:
        await socket.wait_for(MARKER)


async def test_each_member_gets_the_notification_once_with_its_own_seq_from_one_message(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
    channel: ChannelMessages,
) -> None:
    kanzlei, other = await factory.kanzlei(), await factory.kanzlei()
    members = [await factory.user(Role.ADMIN, kanzlei=kanzlei) for _ in range(3)]
    colleague = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    foreign_admin = await factory.user(Role.ADMIN, kanzlei=other)
    # One member is a notification ahead: seqs are per member.
    await notify(services.db, services.notifications, members[0].id, type="info", title="Vorher")
    member_sockets = [(m, await connected(live_server, m, sockets)) for m in members]
    others = [(u, await connected(live_server, u, sockets)) for u in (colleague, foreign_admin)]
    await eventually(lambda: len(channel.events(events.NOTIFICATION)) == 1, what="the first")
    before = len(channel.messages)

    created = await notify_role(
        services.db,
        services.notifications,
        kanzlei.id,
        Role.ADMIN,
        type="job.failed.admin",
        title="Verarbeitung endgültig fehlgeschlagen",
        message="ValueError: kaputt",
    )

    await marked(services, member_sockets + others)
    stored: dict[int, NotificationOut] = {}
    for member, socket in member_sockets:
        # Exactly what the member's own list says, as one notification for one user would.
        async with services.db.session() as db:
            [stored[member.id]] = (await services.notifications.recent(db, member.id)).items[:1]
        assert socket.received(events.NOTIFICATION) == [stored[member.id].as_payload()]
    assert sorted(n.id for n in stored.values()) == sorted(n.id for n in created)
    assert [stored[m.id].seq for m in members] == [2, 1, 1]
    for _, socket in others:
        assert socket.received(events.NOTIFICATION) == []
    # Redis carried one message for all three members, besides the markers.
    assert len(channel.events(events.NOTIFICATION, since=before)) == 1
    assert len(channel.messages[before:]) == 1 + len(member_sockets + others)


async def test_each_app_process_sends_the_members_sockets_it_holds(
    live_server: str,
    second_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
    channel: ChannelMessages,
) -> None:
    kanzlei = await factory.kanzlei()
    here, there, both = [await factory.user(Role.SACHBEARBEITER, kanzlei=kanzlei) for _ in "abc"]
    holding = [
        (here, await connected(live_server, here, sockets)),
        (there, await connected(second_server, there, sockets)),
        (both, await connected(live_server, both, sockets)),
        (both, await connected(second_server, both, sockets)),
    ]

    created = await notify_role(
        services.db, services.notifications, kanzlei.id, Role.SACHBEARBEITER, type="info",
        title="Rundschreiben",
    )  # fmt: skip

    await marked(services, holding)
    received = []
    for _, socket in holding:
        [notification] = socket.received(events.NOTIFICATION)
        assert (notification["title"], notification["seq"]) == ("Rundschreiben", 1)
        received.append(notification["id"])
    # Each member its own row; the user with a tab on each process sees it in both.
    assert sorted(set(received)) == sorted(n.id for n in created)
    assert received[2] == received[3]
    assert len(channel.events(events.NOTIFICATION)) == 1


async def test_a_role_notification_in_a_rolled_back_transaction_reaches_no_one(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
    channel: ChannelMessages,
) -> None:
    kanzlei = await factory.kanzlei()
    member = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    socket = await connected(live_server, member, sockets)

    with pytest.raises(RuntimeError):
        async with services.db.session() as session:
            await services.notifications.stage_role(
                session, kanzlei.id, Role.ADMIN, type="info", title="Zurückgenommen"
            )
            raise RuntimeError("given up before the commit")

    await marked(services, [(member, socket)])
    assert socket.received(events.NOTIFICATION) == []
    assert channel.events(events.NOTIFICATION) == []
