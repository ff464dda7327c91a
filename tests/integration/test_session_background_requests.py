"""Background requests (polls, refreshes after socket events) leave a session's idle lifetime
alone; only a person's requests extend it. An unattended admin tab is signed out."""

from __future__ import annotations

import asyncio
import time

import httpx
from tests.support.factories import Factory
from tests.support.http import logged_in
from tests.support.personas import build_operator
from tests.support.realtime import SocketClient

from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.services import Services

# What the system page's 15 s poll sends (htmx, hx-headers of admin/system/_status.html).
BACKGROUND_POLL = {
    "HX-Request": "true",
    "X-Background": "1",
    "HX-Current-URL": "http://127.0.0.1/admin/system?level=error",
}
POLL_PATH = "/admin/system/status"
# The idle limit as good as reached: the session has this long left when the test starts.
LEFT_SECONDS = 2.5
POLL_EVERY_SECONDS = 0.25


def redis_key(services: Services, client: httpx.AsyncClient) -> str:
    return f"{services.sessions.prefix}:session:{session_key(client.cookies[SESSION_COOKIE])}"


async def test_background_polls_do_not_keep_an_idle_session_alive(
    live_server: str, factory: Factory, services: Services
) -> None:
    async with logged_in(live_server, await build_operator(factory)) as client:
        key = redis_key(services, client)
        await services.redis.pexpire(key, int(LEFT_SECONDS * 1000))
        started = time.monotonic()
        deadline = started + LEFT_SECONDS + 5
        remaining_ms: list[int] = []
        while True:
            response = await client.get(POLL_PATH, headers=BACKGROUND_POLL)
            if response.status_code != 200:
                break
            remaining_ms.append(await services.redis.pttl(key))
            assert time.monotonic() < deadline, f"still signed in; TTLs {remaining_ms}"
            await asyncio.sleep(POLL_EVERY_SECONDS)
        lived = time.monotonic() - started

        # Signed out once the idle limit was reached, not before, and the polls never
        # renewed it (each saw less time left than the one before).
        # htmx gets the whole page sent to the login (not the login swapped into the
        # fragment), and comes back to the page it showed, not to the poll's fragment.
        assert response.status_code == 204
        assert response.headers["hx-redirect"] == (
            "/anmelden?next=/admin/system%3Flevel%3Derror&hinweis=abgelaufen"
        )
        assert lived >= LEFT_SECONDS - 0.3
        assert len(remaining_ms) >= 3
        assert remaining_ms == sorted(remaining_ms, reverse=True)
        assert not await services.redis.exists(key)
        page = await client.get("/admin/system")
        assert page.status_code in (302, 303)
        assert page.headers["location"].startswith("/anmelden")


async def test_a_persons_request_extends_the_idle_lifetime(
    live_server: str, factory: Factory, services: Services
) -> None:
    async with logged_in(live_server, await build_operator(factory)) as client:
        key = redis_key(services, client)
        await services.redis.pexpire(key, int(LEFT_SECONDS * 1000))

        # The same fragment, fetched by a person (a click, htmx without the marker).
        response = await client.get(POLL_PATH, headers={"HX-Request": "true"})

        assert response.status_code == 200
        assert await services.redis.pttl(key) > (services.sessions.idle_seconds - 60) * 1000


async def test_a_socket_connect_does_not_extend_the_session(
    live_server: str, factory: Factory, services: Services
) -> None:
    async with logged_in(live_server, await build_operator(factory)) as client:
        key = redis_key(services, client)
        await services.redis.pexpire(key, int(LEFT_SECONDS * 1000) * 4)
        socket = await SocketClient().connect(live_server, client.cookies[SESSION_COOKIE])
        try:
            # Reconnects happen by themselves (network, restarts): not a person's doing.
            assert await services.redis.pttl(key) <= LEFT_SECONDS * 1000 * 4
        finally:
            await socket.close()
