"""A WebSocket without an admitted Socket.IO session is closed after CONNECT_DEADLINE_SECONDS:
one that never sends CONNECT, one whose CONNECT was refused (no session), and one that
ignores being cut when its session ended, even while each answers every ping. An admitted
socket stays."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import websockets
from tests.support.factories import Factory
from tests.support.notifications import notify
from tests.support.realtime import SocketClient, session_token

from ailawyer.app.realtime.server import CONNECT_DEADLINE_SECONDS
from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.domain.roles import Role
from ailawyer.realtime import events
from ailawyer.services import Services

SILENT = 10
REFUSED = 10
# The server sweeps twice a second; the rest is a loaded machine's slack.
SLACK_SECONDS = 2.5


def engineio_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def until_closed(socket: websockets.ClientConnection, since: float) -> float:
    """Answer pings like a live client until the server closes; seconds since `since`."""
    try:
        while True:
            message = await asyncio.wait_for(socket.recv(), CONNECT_DEADLINE_SECONDS * 2)
            if message == "2":  # ping
                await socket.send("3")
    except websockets.ConnectionClosed:
        return time.monotonic() - since


async def hold_open(base_url: str, *, send_connect: bool) -> float:
    """Open an Engine.IO WebSocket like an idle client; how long until the server closed it."""
    async with websockets.connect(engineio_url(base_url), origin=base_url, open_timeout=5) as ws:
        opened = time.monotonic()
        assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("0{")
        if send_connect:
            # A Socket.IO CONNECT without a session cookie: refused, Engine.IO stays.
            await ws.send("40")
            assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("44")
        return await until_closed(ws, opened)


async def hold_after_the_session_ends(base_url: str, services: Services, token: str) -> float:
    """Connect with a session, end it, ignore the cut; how long the server still kept it."""
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
    async with websockets.connect(
        engineio_url(base_url), origin=base_url, additional_headers=headers, open_timeout=5
    ) as ws:
        assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("0{")
        await ws.send("40")
        assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("40{")
        ended = time.monotonic()
        await services.sessions.end(session_key(token))
        return await until_closed(ws, ended)


async def test_websockets_without_a_session_are_closed_and_an_admitted_one_stays(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.ANWALT)
    admitted = await sockets().connect(live_server, await session_token(live_server, user.email))

    other = await factory.user(Role.ANWALT)
    lifetimes = await asyncio.gather(
        *(hold_open(live_server, send_connect=False) for _ in range(SILENT)),
        *(hold_open(live_server, send_connect=True) for _ in range(REFUSED)),
        hold_after_the_session_ends(
            live_server, services, await session_token(live_server, other.email)
        ),
    )

    for lifetime in lifetimes:
        assert (
            CONNECT_DEADLINE_SECONDS - 0.5 <= lifetime <= CONNECT_DEADLINE_SECONDS + SLACK_SECONDS
        )
    # Opened before all of them, so past its own deadline: still connected and served.
    assert admitted.connected
    await notify(services.db, services.notifications, user.id, type="info", title="Noch da?")
    await admitted.wait_for(events.NOTIFICATION)
