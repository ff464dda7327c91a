"""A signed-in browser tab as far as notifications go: its socket and its catch-up logic.

A line-by-line replica of `static/js/notifications/main.js` and `static/js/realtime.js`
(cursor `last_seq`, the set of seqs handled beyond a gap, de-duplication by seq and id,
catch-up after every connect, on a gap and on `notifications:resync`, reload on 409),
driving a python-socketio AsyncClient over WebSocket with the session cookie. Reconnect
and retry delays are the browser's, scaled down so a run stays short.

It records, per notification id, how often it arrived (socket frames, fetched pages) and
how often the list logic accepted it as new (shown: toast, sound). The check compares
these with the database: every notification of the user received, none shown twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
import httpx
import socketio

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.realtime import events

LIST_LIMIT = 50
# main.js: RETRY_DELAYS_MS [1, 2, 5, 10, 30] s and RESYNC_SPREAD_MS 3 s; realtime.js:
# reconnection delay 1 s, at most 15 s. Halved and capped so a run does not idle.
RETRY_DELAYS_SECONDS = (0.5, 1.0, 2.5, 5.0)
RESYNC_SPREAD_SECONDS = 1.5
RECONNECT_DELAY_SECONDS = 0.5
RECONNECT_DELAY_MAX_SECONDS = 4.0
CONNECT_WAIT_SECONDS = 15.0


class SessionGone(Exception):
    """401: the browser would leave for the login page."""


@dataclass
class Tally:
    """What one tab saw, per notification id."""

    # Accepted as new by the list logic: shown (toast, sound) — must be exactly once.
    shown: Counter[int] = field(default_factory=Counter)
    # Listed silently by a full reload (409): received, not shown.
    listed: set[int] = field(default_factory=set)
    # Raw arrivals, before de-duplication.
    frames: Counter[int] = field(default_factory=Counter)
    fetched: Counter[int] = field(default_factory=Counter)
    # Ids first received by the sweep after the run (the protocol alone had missed them).
    only_in_final_sweep: set[int] = field(default_factory=set)
    # Socket delivery latency (created_at on the server to the frame here), ms.
    live_latency_ms: list[float] = field(default_factory=list)
    connects: int = 0
    refusals: int = 0
    reloads: int = 0  # full reloads after a 409, not the first load
    catch_ups: int = 0
    failed_fetches: int = 0

    def received(self) -> set[int]:
        return set(self.shown) | self.listed


class BrowserTab:
    """One tab of one user, connected to one app process (its page's origin)."""

    def __init__(
        self, user_id: int, token: str, app_url: str, http: httpx.AsyncClient, seed: int
    ) -> None:
        self.user_id = user_id
        self.app_url = app_url
        self.http = http
        self.headers = {"Cookie": f"{SESSION_COOKIE}={token}", "Accept": "application/json"}
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.items: dict[int, int] = {}  # id -> seq, the newest LIST_LIMIT, not dismissed
        self.ahead: set[int] = set()  # seqs handled beyond a gap
        self.last_seq = 0
        self.final_sweep = False
        self.session_gone = False
        self._ready = asyncio.Event()
        self._catching_up: asyncio.Task[None] | None = None
        self._catch_up_again = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # Closed by close(); engine.io would otherwise leave its own session unclosed.
        self._session = aiohttp.ClientSession()
        self.sio = socketio.AsyncClient(
            http_session=self._session,
            reconnection=True,
            reconnection_delay=RECONNECT_DELAY_SECONDS,
            reconnection_delay_max=RECONNECT_DELAY_MAX_SECONDS,
            randomization_factor=0.5,
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on(events.NOTIFICATION, self._on_notification)
        self.sio.on(events.RESYNC, self._on_resync)

    # --- life cycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Load the list (retrying), then connect the socket like the page does."""
        self._spawn(self._load_list())
        deadline = time.monotonic() + CONNECT_WAIT_SECONDS
        while True:
            try:
                await self.sio.connect(
                    self.app_url,
                    # A function, not a dict: engine.io deletes the Cookie header from the
                    # dict it is given, and every reconnect would come without a session.
                    headers=lambda: {"Cookie": self.headers["Cookie"], "Origin": self.app_url},
                    transports=["websocket"],
                    wait_timeout=CONNECT_WAIT_SECONDS,
                )
                return
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)

    async def close(self) -> None:
        running = [*self._tasks, *([self._catching_up] if self._catching_up else [])]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self.sio.disconnect()
        await self._session.close()

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def idle(self) -> bool:
        """No catch-up running or scheduled."""
        return self._catching_up is None and not self._tasks

    async def sweep(self) -> None:
        """One more catch-up after the run, recording what only it found."""
        self.final_sweep = True
        await self._catch_up()

    # --- socket events ----------------------------------------------------------------

    async def _on_connect(self) -> None:
        self.tally.connects += 1
        self._catch_up()

    async def _on_connect_error(self, _data: Any = None) -> None:
        self.tally.refusals += 1

    async def _on_notification(self, notification: dict[str, Any]) -> None:
        arrived = time.time()
        self.tally.frames[notification["id"]] += 1
        created = datetime.fromisoformat(notification["created_at"]).timestamp()
        self.tally.live_latency_ms.append((arrived - created) * 1000)
        await self._ready.wait()
        gap = notification["seq"] > self.last_seq + 1
        if not self._accept(notification):
            return
        if gap:
            self._catch_up()

    async def _on_resync(self, _data: Any = None) -> None:
        async def later() -> None:
            await asyncio.sleep(self.rng.random() * RESYNC_SPREAD_SECONDS)
            await self._catch_up()

        self._spawn(later())

    # --- the list logic of main.js ------------------------------------------------------

    def _advance(self, to: int | None = None) -> None:
        self.last_seq = max(self.last_seq, self.last_seq if to is None else to)
        self.ahead = {seq for seq in self.ahead if seq > self.last_seq}
        while self.last_seq + 1 in self.ahead:
            self.ahead.discard(self.last_seq + 1)
            self.last_seq += 1

    def _accept(self, notification: dict[str, Any]) -> bool:
        seq, notification_id = notification["seq"], notification["id"]
        if seq <= self.last_seq or seq in self.ahead or notification_id in self.items:
            return False
        self.items[notification_id] = seq
        self.ahead.add(seq)
        self._advance()
        self.tally.shown[notification_id] += 1
        if self.final_sweep and notification_id not in self.tally.listed:
            self.tally.only_in_final_sweep.add(notification_id)
        self._render()
        return True

    def _render(self) -> None:
        for stale in sorted(self.items, key=self.items.__getitem__, reverse=True)[LIST_LIMIT:]:
            del self.items[stale]

    async def _get(self, path: str) -> httpx.Response:
        response = await self.http.get(self.app_url + path, headers=self.headers)
        if response.status_code == 401:
            self.session_gone = True
            raise SessionGone(path)
        return response

    async def _reload(self) -> None:
        response = await self._get("/api/notifications")
        response.raise_for_status()
        page = response.json()
        self.items = {item["id"]: item["seq"] for item in page["items"]}
        for item in page["items"]:
            self.tally.fetched[item["id"]] += 1
            self.tally.listed.add(item["id"])
        self.ahead.clear()
        self.last_seq = page["last_seq"]
        self._render()

    async def _retrying(self, task: Any) -> None:
        for attempt in range(10_000):
            try:
                await task()
                return
            except SessionGone:
                raise
            except (httpx.HTTPError, ValueError, KeyError):
                self.tally.failed_fetches += 1
                delay = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)]
                await asyncio.sleep(delay)

    async def _load_list(self) -> None:
        await self._retrying(self._reload)
        self._ready.set()

    async def _fetch_missed(self) -> None:
        response = await self._get(f"/api/notifications/after/{self.last_seq}")
        if response.status_code == 409:
            self.tally.reloads += 1
            await self._reload()  # too far behind, or the server was reset: start over
            return
        response.raise_for_status()
        page = response.json()
        for item in page["items"]:
            self.tally.fetched[item["id"]] += 1
            self._accept(item)
        self._advance(page["last_seq"])

    def _catch_up(self) -> asyncio.Task[None]:
        """One catch-up at a time; a request during one makes it run once more after."""
        if self._catching_up is not None:
            self._catch_up_again = True
            return self._catching_up
        self._catching_up = asyncio.ensure_future(self._catch_up_rounds())
        return self._catching_up

    async def _catch_up_rounds(self) -> None:
        try:
            await self._ready.wait()
            while True:
                self._catch_up_again = False
                self.tally.catch_ups += 1
                await self._retrying(self._fetch_missed)
                if not self._catch_up_again:
                    break
        except SessionGone:
            pass
        finally:
            # Cleared here, not in a done callback: a request arriving between the end of
            # this coroutine and a callback would be swallowed by a finished task.
            self._catching_up = None

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
