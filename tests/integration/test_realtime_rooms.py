"""Rooms: every socket is in its user's and its role's room; Akte rooms only after access."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.factories import Factory
from tests.support.personas import People
from tests.support.realtime import SocketClient, session_token

from ailawyer.app.realtime.server import ACCESS_RECHECK_SECONDS
from ailawyer.db.models import Akte, Kanzlei, User
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services

PROBE = "probe"
SENTINEL = "sentinel"


async def connected(
    live_server: str, sockets: Callable[[], SocketClient], user: User
) -> SocketClient:
    return await sockets().connect(live_server, await session_token(live_server, user.email))


async def settle(services: Services, people: dict[SocketClient, User]) -> None:
    """Wait until each socket got a later event: anything sent before it has arrived too.

    One app process forwards the Redis channel's messages in order, so a sentinel sent
    after the probes arrives after every probe meant for that socket.
    """
    for user in people.values():
        await services.emitter.to_user(user.id).emit(SENTINEL, {})
    for socket in people:
        await socket.wait_for(SENTINEL)


def probes(socket: SocketClient) -> list[Any]:
    return socket.received(PROBE)


@pytest.fixture
def firm(people: People) -> dict[str, Any]:
    """The personas under the names these tests use: Kanzlei A's staff and B's ANWALT."""
    return {
        "kanzlei": people.kanzlei_a,
        "other": people.kanzlei_b,
        "admin": people.admin_a,
        "anwalt": people.anwalt_a,
        # Of the same Kanzlei, on no Akte.
        "kollegin": people.staff_a.kollege,
        "sekretariat": people.staff_a[Role.SEKRETARIAT],
        "fremder_anwalt": people.staff_b[Role.ANWALT],
    }


async def test_a_socket_is_in_its_user_room_and_in_its_role_room_of_its_kanzlei(
    live_server: str, services: Services, firm: dict[str, Any], sockets: Callable[[], SocketClient]
) -> None:
    people = {
        await connected(live_server, sockets, firm[name]): firm[name]
        for name in ("anwalt", "kollegin", "sekretariat", "fremder_anwalt")
    }
    by_name = {user.email: socket for socket, user in people.items()}
    anwalt, kollegin = by_name[firm["anwalt"].email], by_name[firm["kollegin"].email]
    sekretariat = by_name[firm["sekretariat"].email]
    fremder = by_name[firm["fremder_anwalt"].email]
    kanzlei: Kanzlei = firm["kanzlei"]

    await services.emitter.to_user(firm["anwalt"].id).emit(PROBE, {"to": "user"})
    await services.emitter.to_role(kanzlei.id, Role.ANWALT).emit(PROBE, {"to": "role"})
    await settle(services, people)

    assert probes(anwalt) == [{"to": "user"}, {"to": "role"}]
    assert probes(kollegin) == [{"to": "role"}]
    assert probes(sekretariat) == []
    # Same role, other Kanzlei: role rooms never cross Kanzleien.
    assert probes(fremder) == []


async def test_joining_an_akte_the_user_may_see_delivers_its_events(
    live_server: str,
    services: Services,
    factory: Factory,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
) -> None:
    akte = await factory.akte(firm["kanzlei"], anwalt=firm["anwalt"])
    anwalt = await connected(live_server, sockets, firm["anwalt"])
    sekretariat = await connected(live_server, sockets, firm["sekretariat"])

    assert await anwalt.call(events.AKTE_JOIN, akte.id) == {"ok": True}
    assert await sekretariat.call(events.AKTE_JOIN, akte.id) == {"ok": True}
    await services.emitter.to_akte(akte.id).emit(PROBE, {"akte": akte.id})
    await settle(services, {anwalt: firm["anwalt"], sekretariat: firm["sekretariat"]})

    assert probes(anwalt) == [{"akte": akte.id}]
    assert probes(sekretariat) == [{"akte": akte.id}]


@pytest.mark.parametrize("intruder", ["kollegin", "fremder_anwalt"])
async def test_joining_an_akte_the_user_may_not_see_is_denied(
    live_server: str,
    services: Services,
    factory: Factory,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
    intruder: str,
) -> None:
    akte = await factory.akte(firm["kanzlei"], anwalt=firm["anwalt"])
    socket = await connected(live_server, sockets, firm[intruder])

    # Sent by hand, with the id of an Akte that is not the user's.
    answer = await socket.call(events.AKTE_JOIN, akte.id)
    await services.emitter.to_akte(akte.id).emit(PROBE, {"akte": akte.id})
    await settle(services, {socket: firm[intruder]})

    assert answer == {"ok": False, "error": "forbidden"}
    assert probes(socket) == []


@pytest.mark.parametrize("payload", [999_999, "1", True, None, {"id": 1}])
async def test_a_join_with_an_unknown_or_malformed_id_is_denied(
    live_server: str,
    services: Services,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
    payload: Any,
) -> None:
    socket = await connected(live_server, sockets, firm["anwalt"])

    answer = await socket.call(events.AKTE_JOIN, payload)

    assert answer["ok"] is False
    assert answer["error"] in {"forbidden", "invalid"}


async def test_leaving_an_akte_room_stops_its_events(
    live_server: str,
    services: Services,
    factory: Factory,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
) -> None:
    akte = await factory.akte(firm["kanzlei"], anwalt=firm["anwalt"])
    socket = await connected(live_server, sockets, firm["anwalt"])
    assert await socket.call(events.AKTE_JOIN, akte.id) == {"ok": True}

    assert await socket.call(events.AKTE_LEAVE, akte.id) == {"ok": True}
    await services.emitter.to_akte(akte.id).emit(PROBE, {"akte": akte.id})
    await settle(services, {socket: firm["anwalt"]})

    assert probes(socket) == []


async def settled(services: Services, socket: SocketClient, user: User, number: int) -> None:
    """Like `settle`, for one socket and repeatedly: sentinel `number` arrives after every
    event sent before it."""
    await services.emitter.to_user(user.id).emit(SENTINEL, {"n": number})
    await socket.wait_for(SENTINEL, lambda data: data == {"n": number})


async def wait_until_cut_off(
    services: Services, akte_id: int, socket: SocketClient, user: User, witness: SocketClient
) -> None:
    """Send numbered probes to an Akte's room until `socket` (of `user`) stops getting them;
    `witness`, still entitled, gets each, so every probe did go out."""
    deadline = time.monotonic() + ACCESS_RECHECK_SECONDS + 3
    for number in itertools.count():
        await services.emitter.to_akte(akte_id).emit(PROBE, {"n": number})
        await witness.wait_for(PROBE, lambda data, n=number: data == {"n": n})
        await settled(services, socket, user, number)
        if {"n": number} not in probes(socket):
            return
        assert time.monotonic() < deadline, "the socket stayed in the Akte's room"
        await asyncio.sleep(0.2)


async def set_akte(services: Services, akte_id: int, **values: Any) -> None:
    async with services.db.session() as db:
        akte = await db.get(Akte, akte_id)
        assert akte is not None
        for name, value in values.items():
            setattr(akte, name, value)
        await db.commit()


async def set_user(services: Services, user_id: int, **values: Any) -> None:
    async with services.db.session() as db:
        user = await db.get(User, user_id)
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)
        await db.commit()


@pytest.mark.parametrize("change", ["akte reassigned", "role changed"])
async def test_a_socket_leaves_the_room_of_an_akte_its_user_lost(
    live_server: str,
    services: Services,
    factory: Factory,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
    change: str,
) -> None:
    kanzlei = firm["kanzlei"]
    # Access as the anwalt of the Akte, or Kanzlei-wide as SEKRETARIAT.
    user = firm["kollegin"] if change == "akte reassigned" else firm["sekretariat"]
    akte = await factory.akte(kanzlei, anwalt=firm["kollegin"], sachbearbeiter=firm["anwalt"])
    socket = await connected(live_server, sockets, user)
    witness = await connected(live_server, sockets, firm["anwalt"])
    assert await socket.call(events.AKTE_JOIN, akte.id) == {"ok": True}
    assert await witness.call(events.AKTE_JOIN, akte.id) == {"ok": True}

    if change == "akte reassigned":
        await set_akte(services, akte.id, anwalt_id=None)
    else:
        await set_user(services, user.id, role=Role.ANWALT)
    started = time.monotonic()
    await wait_until_cut_off(services, akte.id, socket, user, witness)

    assert time.monotonic() - started < ACCESS_RECHECK_SECONDS + 2
    # Only the room is gone: the socket stays connected, and may not join again.
    assert socket.connected
    assert await socket.call(events.AKTE_JOIN, akte.id) == {"ok": False, "error": "forbidden"}


async def test_a_socket_follows_its_users_new_role(
    live_server: str,
    services: Services,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
) -> None:
    kanzlei: Kanzlei = firm["kanzlei"]
    user = firm["sekretariat"]
    socket = await connected(live_server, sockets, user)

    await set_user(services, user.id, role=Role.ANWALT)
    deadline = time.monotonic() + ACCESS_RECHECK_SECONDS + 3
    for number in itertools.count():
        await services.emitter.to_role(kanzlei.id, Role.ANWALT).emit(PROBE, {"n": number})
        await services.emitter.to_role(kanzlei.id, Role.SEKRETARIAT).emit(PROBE, {"old": number})
        await settled(services, socket, user, number)
        if {"n": number} in probes(socket):
            break
        assert time.monotonic() < deadline, "the socket did not follow the new role"
        await asyncio.sleep(0.2)

    assert {"old": number} not in probes(socket)


async def test_a_demoted_admin_leaves_the_job_explorer_room(
    live_server: str,
    services: Services,
    factory: Factory,
    firm: dict[str, Any],
    sockets: Callable[[], SocketClient],
) -> None:
    kanzlei: Kanzlei = firm["kanzlei"]
    admin = firm["admin"]
    # A second ADMIN of the Kanzlei, still entitled to the room.
    colleague = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    socket = await connected(live_server, sockets, admin)
    witness = await connected(live_server, sockets, colleague)
    assert await socket.call(events.JOBS_JOIN, {}) == {"ok": True}
    assert await witness.call(events.JOBS_JOIN, {}) == {"ok": True}

    await set_user(services, admin.id, role=Role.ANWALT)
    deadline = time.monotonic() + ACCESS_RECHECK_SECONDS + 3
    for number in itertools.count():
        await services.emitter.to_job_explorer(kanzlei.id).emit(PROBE, {"n": number})
        await witness.wait_for(PROBE, lambda data, n=number: data == {"n": n})
        await settled(services, socket, admin, number)
        if {"n": number} not in probes(socket):
            break
        assert time.monotonic() < deadline, "the demoted ADMIN still hears the explorer"
        await asyncio.sleep(0.2)

    assert socket.connected
