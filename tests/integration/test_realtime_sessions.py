"""A socket never outlives its session: logout and expiry cut it, on every app process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import csrf_token
from tests.support.notifications import notify
from tests.support.realtime import AppServer, SocketClient, eventually, session_token

from ailawyer.app.realtime.session_guard import RECHECK_SECONDS
from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.config import Settings
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services


@pytest.fixture(scope="module")
def second_server(settings: Settings, tmp_root: Path) -> Iterator[str]:
    """A second `ailawyer serve` on the same Redis and database, like a scaled deployment."""
    server = AppServer(process_env(settings), tmp_root / "serve-second.out").start()
    yield server.url
    server.stop()


async def log_out(base_url: str, token: str) -> None:
    """Press "Abmelden" on `base_url` with the session `token`."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        http.cookies.set(SESSION_COOKIE, token)
        response = await http.post("/abmelden", data={"_csrf_token": await csrf_token(http)})
    assert response.status_code in (302, 303)


@pytest.mark.parametrize("where", ["same process", "other process"])
async def test_logout_disconnects_the_socket_within_two_seconds(
    live_server: str,
    second_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
    where: str,
) -> None:
    user = await factory.user(Role.ANWALT)
    token = await session_token(live_server, user.email)
    socket = await sockets().connect(live_server, token)

    started = time.monotonic()
    await log_out(live_server if where == "same process" else second_server, token)

    await eventually(lambda: socket.disconnected_at is not None, 2.0, "the disconnect")
    assert socket.disconnected_at - started < 2.0
    assert socket.received(events.SESSION_ENDED) == [{"reason": "logout"}]


async def test_logout_cuts_only_the_sockets_of_that_session(
    live_server: str,
    second_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.ANWALT)
    office = await session_token(live_server, user.email)
    laptop = await session_token(live_server, user.email)
    office_socket = await sockets().connect(live_server, office)
    laptop_socket = await sockets().connect(second_server, laptop)

    await log_out(live_server, office)

    await eventually(lambda: not office_socket.connected, 2.0, "the office socket to go")
    await notify(services.db, services.notifications, user.id, type="info", title="Noch da?")
    await laptop_socket.wait_for(events.NOTIFICATION)
    assert laptop_socket.connected


async def test_a_session_that_runs_out_disconnects_its_sockets(
    live_server: str,
    second_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.SACHBEARBEITER)
    token = await session_token(live_server, user.email)
    here = await sockets().connect(live_server, token)
    there = await sockets().connect(second_server, token)

    # Idle expiry is the key's TTL: let it run out, nobody announces it.
    await services.redis.pexpire(f"{services.sessions.prefix}:session:{session_key(token)}", 200)

    # Each process re-checks its sessions at least every RECHECK_SECONDS.
    limit = RECHECK_SECONDS + 1.5
    await eventually(lambda: not here.connected and not there.connected, limit, "both sockets")
    assert here.received(events.SESSION_ENDED) == [{"reason": "expired"}]
    assert there.received(events.SESSION_ENDED) == [{"reason": "expired"}]
