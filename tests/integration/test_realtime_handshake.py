"""The Socket.IO handshake: same session cookie as the pages, same origin, WebSocket only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import socketio
from tests.support.factories import Factory
from tests.support.realtime import SocketClient, session_token

from ailawyer.auth.sessions import session_key
from ailawyer.domain.roles import Role
from ailawyer.services import Services

REFUSED = {"message": "unauthorized"}


async def test_a_socket_without_a_session_is_refused_with_a_reason(
    live_server: str, services: Services, sockets: Callable[[], SocketClient]
) -> None:
    socket = sockets()

    with pytest.raises(socketio.exceptions.ConnectionError):
        await socket.connect(live_server, token=None)

    assert socket.refusal == REFUSED
    assert not socket.connected


async def test_a_socket_with_an_unknown_session_cookie_is_refused(
    live_server: str, services: Services, sockets: Callable[[], SocketClient]
) -> None:
    socket = sockets()

    with pytest.raises(socketio.exceptions.ConnectionError):
        await socket.connect(live_server, token="erfunden")

    assert socket.refusal == REFUSED


async def test_a_socket_with_an_expired_session_is_refused(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    user = await factory.user(Role.ANWALT)
    token = await session_token(live_server, user.email)
    redis_key = f"{services.sessions.prefix}:session:{session_key(token)}"
    # Past its absolute lifetime, though still present in Redis.
    created = float(await services.redis.hget(redis_key, "created_at"))
    await services.redis.hset(
        redis_key, "created_at", repr(created - services.sessions.absolute_seconds - 60)
    )
    socket = sockets()

    with pytest.raises(socketio.exceptions.ConnectionError):
        await socket.connect(live_server, token)

    assert socket.refusal == REFUSED
    assert not await services.redis.exists(redis_key)


async def test_a_socket_of_a_deactivated_user_is_refused(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    token = await session_token(live_server, user.email)
    async with services.db.session() as db:
        row = await db.get(type(user), user.id)
        row.aktiv = False
        await db.commit()
    socket = sockets()

    with pytest.raises(socketio.exceptions.ConnectionError):
        await socket.connect(live_server, token)

    assert socket.refusal == REFUSED


async def test_a_valid_session_connects(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    user = await factory.user(Role.ANWALT)
    token = await session_token(live_server, user.email)

    socket = await sockets().connect(live_server, token)

    assert socket.connected


async def test_a_page_of_another_origin_cannot_open_a_socket(
    live_server: str, services: Services, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    user = await factory.user(Role.ANWALT)
    token = await session_token(live_server, user.email)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await sockets().connect(live_server, token, origin="https://boese.example")
    # The page's own origin (scheme, host and port of the server) is welcome.
    assert (await sockets().connect(live_server, token, origin=live_server)).connected


async def test_long_polling_is_not_offered(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=5) as http:
        response = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})

    assert response.status_code == 400
