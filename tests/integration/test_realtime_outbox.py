"""Events after commit: what a transaction stages goes out once after its commit, or never.

Real PostgreSQL/SQLite, real Redis, a real `ailawyer serve` and a Socket.IO client. That
nothing arrived is shown with a marker sent afterwards through the same emitter: Redis
delivers one publisher's messages in order, so once the marker is in, an event sent
before it would be in too.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.factories import Factory
from tests.support.realtime import SocketClient, session_token

from ailawyer.db.models import Notification
from ailawyer.domain.roles import Role
from ailawyer.realtime import events, outbox
from ailawyer.realtime.emitter import EmitTarget
from ailawyer.services import Services

PROBE = "probe"


class Abandoned(Exception):
    """Stands for whatever makes a change give up before its commit."""


async def _listening(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> tuple[int, SocketClient, EmitTarget]:
    user = await factory.user(Role.ANWALT)
    socket = await sockets().connect(live_server, await session_token(live_server, user.email))
    return user.id, socket, services.emitter.to_user(user.id)


async def _marker(socket: SocketClient, target: EmitTarget, name: str) -> None:
    """Send a marker and wait for it: whatever was sent before has arrived by then."""
    assert await target.send(PROBE, {"n": name})
    await socket.wait_for(PROBE, lambda data: data["n"] == name)


async def test_an_event_staged_in_a_rolled_back_transaction_is_never_sent(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    user_id, socket, target = await _listening(live_server, services, factory, sockets)

    with pytest.raises(Abandoned):
        async with services.db.session() as session:
            await services.notifications.stage_user(
                session, user_id, type="info", title="Zurückgenommen"
            )
            outbox.stage(session, target, PROBE, {"n": "zurückgenommen"})
            raise Abandoned

    await _marker(socket, target, "danach")
    assert socket.received(PROBE) == [{"n": "danach"}]
    assert socket.received(events.NOTIFICATION) == []


async def test_an_event_staged_in_a_committed_transaction_is_sent_once_after_the_commit(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    user_id, socket, target = await _listening(live_server, services, factory, sockets)

    async with services.db.session() as session:
        row = await services.notifications.stage_user(
            session, user_id, type="info", title="Bestätigt"
        )
        await _marker(socket, target, "vor dem Commit")
        assert socket.received(events.NOTIFICATION) == []
        await outbox.commit(session)
        # Committing the session again sends nothing a second time.
        await outbox.commit(session)

    sent = await socket.wait_for(events.NOTIFICATION)
    assert (sent["id"], sent["seq"], sent["title"]) == (row.id, row.seq, "Bestätigt")
    async with services.db.session() as other:
        assert await other.get(Notification, sent["id"]) is not None
    await _marker(socket, target, "danach")
    assert len(socket.received(events.NOTIFICATION)) == 1


async def test_a_rollback_drops_only_the_events_of_its_own_transaction(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    _, socket, target = await _listening(live_server, services, factory, sockets)

    async with services.db.session() as session:
        outbox.stage(session, target, PROBE, {"n": "erste"})
        await outbox.commit(session)
        # Staged before any statement of its transaction: the rollback still drops it.
        outbox.stage(session, target, PROBE, {"n": "zurückgenommen"})
        await session.rollback()
        outbox.stage(session, target, PROBE, {"n": "zweite"})
        await outbox.commit(session)

    await _marker(socket, target, "danach")
    assert [data["n"] for data in socket.received(PROBE)] == ["erste", "zweite", "danach"]
