"""No Socket.IO event lets a socket into another Kanzlei's (or another user's) rooms.

Driven by the server's own handler table: every event a client may send is sent with the
victim's ids and with hand-crafted payloads by each role of another Kanzlei and by the
victim's colleague without access. Afterwards everything addressed to the victim (its Akte,
its users, its roles) is emitted, and none of it may arrive. Events the server sends are
forged by a client too; they must reach nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.personas import ROLES, Tenant
from tests.support.realtime import SocketClient, eventually, session_token

from ailawyer.app.realtime.server import MAX_MESSAGE_BYTES, RealtimeServer
from ailawyer.config import Settings
from ailawyer.db.models import User
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services

PROBE = "probe"
SENTINEL = "sentinel"
# Connection bookkeeping, not requests a client makes.
LIFECYCLE = frozenset({"connect", "disconnect"})
# Every Kanzlei's ADMIN may join the job explorer's room, but the server puts the socket in
# its own Kanzlei's room (jobs/access.explorer_scope): the victim's job events stay apart.
OWN_ROOM_ONLY = frozenset({events.JOBS_JOIN})


def client_events(settings: Settings) -> list[str]:
    """Every event the server handles from clients, from its own handler table."""
    handlers = RealtimeServer(settings).sio.handlers["/"]
    return sorted(set(handlers) - LIFECYCLE)


def crafted_payloads(victim: Tenant) -> list[Any]:
    """The victim's Akte id in every shape a sloppy check might accept, and junk."""
    akte = victim.akte.id
    return [
        akte,
        str(akte),
        float(akte),
        [akte],
        {"akteId": akte, "id": akte},
        True,
        None,
        -akte,
        2**70,
        "1 OR 1=1",
        {"__proto__": {"admin": True}},
    ]


async def connected(base_url: str, sockets: Callable[[], SocketClient], user: User) -> SocketClient:
    return await sockets().connect(base_url, await session_token(base_url, user.email))


async def settle(services: Services, people: dict[SocketClient, User]) -> None:
    """Wait for a later event on each socket: whatever was sent before it has arrived too."""
    for user in people.values():
        await services.emitter.to_user(user.id).emit(SENTINEL, {})
    for socket in people:
        await socket.wait_for(SENTINEL)


async def emit_to_everything_of(services: Services, victim: Tenant) -> None:
    """A probe to the victim's Akte, to each of its users, to each role of its Kanzlei, and
    to its ADMINs' job explorer and the operator's."""
    emitter = services.emitter
    await emitter.to_akte(victim.akte.id).emit(PROBE, {"room": "akte", "secret": victim.secret})
    await emitter.to_job_explorer(victim.kanzlei.id).emit(PROBE, {"room": "jobs"})
    await emitter.to_job_explorer(None).emit(PROBE, {"room": "all jobs"})
    for role, user in victim.users.items():
        await emitter.to_user(user.id).emit(PROBE, {"room": f"user:{role.value}"})
    for role in ROLES:
        await emitter.to_role(victim.kanzlei.id, role).emit(PROBE, {"room": f"role:{role.value}"})


async def test_the_handler_table_holds_the_room_joins(settings: Settings) -> None:
    assert {events.AKTE_JOIN, events.JOBS_JOIN} <= set(client_events(settings))


async def test_no_client_event_opens_another_kanzleis_or_users_rooms(
    live_server: str,
    services: Services,
    settings: Settings,
    attacker: Tenant,
    victim: Tenant,
    sockets: Callable[[], SocketClient],
) -> None:
    callers = {role.value: attacker.users[role] for role in ROLES} | {"kollege": victim.kollege}
    people = {await connected(live_server, sockets, user): user for user in callers.values()}
    problems: list[str] = []
    sent = 0

    for (who, _), socket in zip(callers.items(), people, strict=True):
        for event in client_events(settings):
            for payload in crafted_payloads(victim):
                answer = await socket.call(event, payload)
                sent += 1
                granted = isinstance(answer, dict) and answer.get("ok") is True
                deliberate = event in OWN_ROOM_ONLY and who == Role.ADMIN.value
                if event.endswith(":join") and granted and not deliberate:
                    problems.append(f"{who} {event} {payload!r} -> {answer!r}")
        assert socket.connected, f"{who}'s socket was dropped by a crafted payload"
    await emit_to_everything_of(services, victim)
    await settle(services, people)

    for (who, _), socket in zip(callers.items(), people, strict=True):
        # The colleague is an ANWALT of the victim's Kanzlei: that role's room is his own.
        own = {f"role:{Role.ANWALT.value}"} if who == "kollege" else set()
        received = [probe for probe in socket.received(PROBE) if probe["room"] not in own]
        problems += [f"{who} received {probe!r}" for probe in received]
    assert problems == [], "\n".join(problems)
    assert sent >= len(callers) * 2 * len(crafted_payloads(victim))


async def test_events_a_client_forges_reach_no_other_socket(
    live_server: str,
    services: Services,
    attacker: Tenant,
    victim: Tenant,
    sockets: Callable[[], SocketClient],
) -> None:
    owner = victim.users[Role.ANWALT]
    listener = await connected(live_server, sockets, owner)
    assert await listener.call(events.AKTE_JOIN, victim.akte.id) == {"ok": True}
    forger = await connected(live_server, sockets, attacker.users[Role.ADMIN])
    forged = {
        "id": 1,
        "title": "Gefälscht",
        "akteId": victim.akte.id,
        "dokumentId": victim.dokument.id,
        "status": "ABGESCHLOSSEN",
        "reason": "logout",
    }

    server_events = [
        events.NOTIFICATION,
        events.NOTIFICATION_READ,
        events.NOTIFICATION_DISMISSED,
        events.RESYNC,
        events.SESSION_ENDED,
        events.DOKUMENT_STATUS,
        events.DOKUMENT_PROGRESS,
        events.JOBS_UPDATE,
        PROBE,
    ]
    for event in server_events:
        await forger.sio.emit(event, forged)
    await settle(services, {listener: owner, forger: attacker.users[Role.ADMIN]})

    assert [name for name, _ in listener.events if name != SENTINEL] == []
    assert listener.connected and forger.connected


async def test_an_oversized_frame_ends_only_that_socket(
    live_server: str, services: Services, attacker: Tenant, sockets: Callable[[], SocketClient]
) -> None:
    bystander_user = attacker.users[Role.SEKRETARIAT]
    bystander = await connected(live_server, sockets, bystander_user)
    flooder = await connected(live_server, sockets, attacker.users[Role.ANWALT])

    await flooder.sio.emit(events.AKTE_JOIN, "x" * (MAX_MESSAGE_BYTES * 4))

    await eventually(lambda: not flooder.connected, what="the flooding socket to be closed")
    await settle(services, {bystander: bystander_user})
    assert await bystander.call(events.AKTE_JOIN, attacker.akte.id) == {"ok": True}
