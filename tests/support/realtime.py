"""Socket.IO test clients that record what arrives, and extra `ailawyer serve` processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import socketio
from tests.support.http import login
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.auth.sessions import SESSION_COOKIE

TIMEOUT = 5.0
POLL = 0.02


async def eventually(check: Callable[[], bool], within: float = TIMEOUT, what: str = "") -> None:
    """Wait until `check()` is true; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or check}")
        await asyncio.sleep(POLL)


class SocketClient:
    """A python-socketio client speaking WebSocket only (like the browser), recording events."""

    def __init__(self) -> None:
        # No automatic reconnects: a test reconnects explicitly when it means to.
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.refusal: Any = None
        self.disconnected_at: float | None = None
        self.sio.on("*", self._record)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._disconnected)

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    async def _refused(self, data: Any = None) -> None:
        self.refusal = data

    async def _disconnected(self, reason: Any = None) -> None:
        self.disconnected_at = time.monotonic()

    @property
    def connected(self) -> bool:
        return self.sio.connected

    async def connect(
        self, base_url: str, token: str | None, *, origin: str | None = None
    ) -> SocketClient:
        """Connect with the session cookie `token` (None: without one); raises if refused."""
        headers = {}
        if token is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={token}"
        if origin is not None:
            headers["Origin"] = origin
        self.disconnected_at = None
        await self.sio.connect(
            base_url, headers=headers, transports=["websocket"], wait_timeout=TIMEOUT
        )
        return self

    def received(self, event: str) -> list[Any]:
        """Payloads of `event` so far, in order."""
        return [data for name, data in self.events if name == event]

    async def wait_for(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, within: float = TIMEOUT
    ) -> Any:
        """The first payload of `event` for which `match` is true, waiting for it."""
        found: list[Any] = []

        def arrived() -> bool:
            found[:] = [data for data in self.received(event) if match(data)]
            return bool(found)

        await eventually(arrived, within, f"event {event!r}")
        return found[0]

    async def call(self, event: str, data: Any) -> Any:
        """Emit with acknowledgement and return the server's answer."""
        return await self.sio.call(event, data, timeout=TIMEOUT)

    async def close(self) -> None:
        """Disconnect (engine.io closes its HTTP session when it resets)."""
        if self.sio.connected:
            await self.sio.disconnect()


async def session_token(base_url: str, email: str) -> str:
    """Log in over HTTP like a browser and return the session cookie's token."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await login(http, email)
        assert response.status_code in (302, 303), response.text
        return http.cookies[SESSION_COOKIE]


class AppServer:
    """An `ailawyer serve` process of our own that can be stopped and started on one port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: AilawyerProcess | None = None

    def start(self) -> AppServer:
        self.process = AilawyerProcess(["serve", "--port", str(self.port)], self.env, self.log_path)
        wait_for_http(f"{self.url}/api/health", process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            code = self.process.stop()
            self.process = None
            assert code == 0, self.log_path.read_text(errors="replace")[-4000:]
