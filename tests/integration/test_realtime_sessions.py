"""A socket never outlives its session: logout and expiry cut it, on every app process."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import csrf_token
from tests.support.jobs import wait_until
from tests.support.notifications import notify
from tests.support.realtime import AppServer, SocketClient, eventually, session_token

from ailawyer.app.realtime.session_guard import SWEEP_SECONDS
from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.config import Settings
from ailawyer.domain.roles import Role
from ailawyer.embedded_redis import RedisServer
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


def redis_session_key(services: Services, token: str) -> str:
    return f"{services.sessions.prefix}:session:{session_key(token)}"


async def ttl_reads(services: Services) -> int:
    """PTTL commands the test Redis has run so far (the guard's way to read a session)."""
    stats = await services.redis.info("commandstats")
    return int(stats.get("cmdstat_pttl", {}).get("calls", 0))


async def test_a_session_that_runs_out_disconnects_its_sockets(
    live_server: str,
    second_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.SACHBEARBEITER)
    token = await session_token(live_server, user.email)
    key = redis_session_key(services, token)
    # Idle expiry is the key's TTL: near its end when the tab's sockets (re)connect, which
    # does not renew it. Nobody announces when it runs out.
    await services.redis.pexpire(key, 3000)
    here = await sockets().connect(live_server, token)
    there = await sockets().connect(second_server, token)

    await wait_until(
        lambda: _gone(services, key), within=5, interval=0.005, what="the key to expire"
    )
    expired = time.monotonic()

    # Each process reads the session again when its TTL said it would end.
    limit = SWEEP_SECONDS + 1.0
    await eventually(lambda: not here.connected and not there.connected, limit, "both sockets")
    assert here.disconnected_at - expired < limit
    assert here.received(events.SESSION_ENDED) == [{"reason": "expired"}]
    assert there.received(events.SESSION_ENDED) == [{"reason": "expired"}]


async def _gone(services: Services, key: str) -> bool:
    return not await services.redis.exists(key)


async def test_a_session_renewed_by_a_request_keeps_its_socket(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    user = await factory.user(Role.ANWALT)
    token = await session_token(live_server, user.email)
    await services.redis.pexpire(redis_session_key(services, token), 2000)
    socket = await sockets().connect(live_server, token)
    reads = await ttl_reads(services)

    # The person works in another tab: the request renews the idle timeout.
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        http.cookies.set(SESSION_COOKIE, token)
        assert (await http.get("/")).status_code == 200

    async def guard_read_again() -> bool:
        return await ttl_reads(services) > reads

    # When the TTL read at connect runs out, the guard reads it again and finds it renewed.
    await wait_until(guard_read_again, within=5, what="the guard to read the session again")
    await notify(services.db, services.notifications, user.id, type="info", title="Noch da?")
    await socket.wait_for(events.NOTIFICATION)
    assert socket.connected
    assert socket.received(events.SESSION_ENDED) == []


async def test_the_guard_reads_only_sessions_near_their_end(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    far = []
    for _ in range(30):
        user = await factory.user(Role.ANWALT)
        far.append(await services.sessions.create(user.id, ip=None, user_agent=None))
    user = await factory.user(Role.ANWALT)
    near = await services.sessions.create(user.id, ip=None, user_agent=None)
    # Longer than the 5 s after which the guard used to re-read every session.
    await services.redis.pexpire(redis_session_key(services, near), 6000)
    idle = [await sockets().connect(live_server, token) for token in far]
    ending = await sockets().connect(live_server, near)
    reads = await ttl_reads(services)

    await eventually(lambda: not ending.connected, 6.0 + SWEEP_SECONDS + 1.0, "the near socket")

    # The near session's read(s) at its end; none for the 30 far from theirs.
    assert await ttl_reads(services) - reads <= 3
    assert all(socket.connected for socket in idle)


async def test_a_session_lost_while_redis_was_away_cuts_its_socket(
    settings: Settings,
    tmp_path: Path,
    factory: Factory,
    sockets: Callable[[], SocketClient],
) -> None:
    redis = RedisServer(data_dir=tmp_path / "redis")
    redis.start()
    app = AppServer(process_env(settings, REDIS_URL=redis.url), tmp_path / "serve.out")
    try:
        await asyncio.to_thread(app.start)
        user = await factory.user(Role.ANWALT)
        token = await session_token(app.url, user.email)
        socket = await sockets().connect(app.url, token)

        # Redis comes back without its data: nobody announced the end, and the TTL read
        # at connect is an idle period away. The guard reads every session again once its
        # subscription is back.
        redis.stop()
        shutil.rmtree(redis.data_dir / "appendonlydir")
        redis.start()

        await eventually(lambda: not socket.connected, 15.0, "the socket to be cut")
        assert socket.received(events.SESSION_ENDED) == [{"reason": "expired"}]
    finally:
        await asyncio.to_thread(app.stop)
        redis.stop()
