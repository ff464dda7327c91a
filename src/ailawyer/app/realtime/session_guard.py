"""Keeps every socket inside the life of its session, in each app process.

Two ways a session ends, and how each reaches the sockets of this process:
1. Ended on purpose (logout, deactivation, absolute end seen by a request) by any
   process: `SessionStore.end` deletes the key and publishes on the control channel in
   one transaction; we disconnect at once.
2. Run out (idle TTL or absolute end): Redis just drops the key, nobody announces it.
   Each watched session is read again only when the TTL last read says it could be gone:
   a session's end only ever moves later (a request renews the idle TTL, never below what
   it was; see `SessionStore.load`), so before that moment it cannot have run out. If it
   was renewed meanwhile, the read finds the new TTL and schedules the next one by it.
   An idle process therefore reads about one TTL per session per idle period, not one per
   socket every few seconds (13 % of a core at 5,000 sockets when it did).
A lost control message (Redis restarted, the subscription dropped) is covered by reading
every session again once the subscription is back (`recheck_all`). Sockets are never cut
by a decision of this process alone: Redis holds the truth.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ailawyer.auth.sessions import SessionStore
from ailawyer.logs import get_logger

log = get_logger(__name__)

# How often due sessions are looked for: a run-out session's sockets are cut at most this
# long (plus one Redis round trip) after its key expired.
SWEEP_SECONDS = 0.5
LISTEN_RETRY_SECONDS = 1.0

# Called with (sid, reason) for every socket whose session ended. Returns False for a
# socket still inside its connect handler (it cannot be disconnected yet).
Cut = Callable[[str, str], Awaitable[bool]]


@dataclass(slots=True)
class _Watch:
    sids: set[str] = field(default_factory=set)
    check_at: float = math.inf


class SessionGuard:
    """Indexes this process's sockets by session and cuts them when the session ends."""

    def __init__(self, sessions: SessionStore, cut: Cut) -> None:
        self._sessions = sessions
        self._cut = cut
        self._watches: dict[str, _Watch] = {}
        # (check_at, session key), soonest first; an entry whose time is no longer its
        # watch's check_at is stale and skipped. A sweep pops only what is due instead of
        # looking at every session.
        self._schedule: list[tuple[float, str]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, session_key: str, sid: str, ttl_seconds: float) -> None:
        """Watch `sid` as a socket of `session_key`, whose key lives `ttl_seconds` more."""
        watch = self._watches.setdefault(session_key, _Watch())
        watch.sids.add(sid)
        self._schedule_check(session_key, watch, time.monotonic() + ttl_seconds)

    def discard(self, session_key: str, sid: str) -> None:
        """Stop watching a socket that disconnected."""
        watch = self._watches.get(session_key)
        if watch is None:
            return
        watch.sids.discard(sid)
        if not watch.sids:
            del self._watches[session_key]
            # Its entry stays in the schedule until due; with many reconnects the stale
            # entries would pile up for an idle period, so rebuild once they dominate.
            if len(self._schedule) > 2 * len(self._watches) + 64:
                self._schedule = [
                    (w.check_at, key) for key, w in self._watches.items() if w.check_at < math.inf
                ]
                heapq.heapify(self._schedule)

    def recheck_all(self) -> None:
        """Re-verify every session soon (after a Redis failure control messages may be lost)."""
        for watch in self._watches.values():
            watch.check_at = 0.0
        self._schedule = [(0.0, key) for key in self._watches]

    def _schedule_check(self, key: str, watch: _Watch, at: float) -> None:
        """Check `key` at `at`, or earlier if an earlier check is already due."""
        if at < watch.check_at:
            watch.check_at = at
            heapq.heappush(self._schedule, (at, key))

    def start(self) -> None:
        """Start listening on the control channel and sweeping for expired sessions."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="session-guard-listen"),
            asyncio.create_task(self._sweep(), name="session-guard-sweep"),
        ]

    async def stop(self) -> None:
        """Stop both background tasks."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _end(self, session_key: str, reason: str) -> None:
        watch = self._watches.pop(session_key, None)
        if watch is None:
            return
        log.info("session ended; disconnecting its sockets", sockets=len(watch.sids), reason=reason)
        for sid in list(watch.sids):
            try:
                done = await self._cut(sid, reason)
            except Exception:
                log.exception("could not disconnect a socket", sid=sid)
                done = False
            if not done:
                # Still connecting (or failed): watch it again and retry at the next sweep.
                self.add(session_key, sid, 0.0)

    async def _listen(self) -> None:
        """Follow the control channel; after a reconnect, re-verify everyone."""
        channel = self._sessions.control_channel
        first = True
        while True:
            pubsub = self._sessions.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if not first:
                    self.recheck_all()
                first = False
                async for message in pubsub.listen():
                    if message["type"] != "message":
                        continue
                    try:
                        ended = json.loads(message["data"])
                        key, reason = str(ended["session"]), str(ended.get("reason", "logout"))
                    except (ValueError, KeyError, TypeError):
                        log.warning("malformed session control message")
                        continue
                    await self._end(key, reason)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("session control channel lost; retrying", error=repr(error))
            finally:
                try:
                    await pubsub.aclose()
                except Exception as error:  # the connection may already be dead
                    log.debug("closing the control subscription failed", error=repr(error))
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    def _due(self, now: float) -> list[str]:
        """Pop the sessions whose check is due (each once; stale entries dropped)."""
        due: list[str] = []
        while self._schedule and self._schedule[0][0] <= now:
            at, key = heapq.heappop(self._schedule)
            watch = self._watches.get(key)
            if watch is not None and watch.check_at == at:
                watch.check_at = math.inf
                due.append(key)
        return due

    async def _sweep(self) -> None:
        """Read the TTL of sessions that are due; cut those Redis no longer has."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            due = self._due(now)
            if not due:
                continue
            try:
                remaining = await self._sessions.remaining_seconds_many(due)
            except Exception as error:
                # Redis away: keep the sockets; deciding without Redis would log everyone
                # out. Due again at the next sweep.
                log.warning("session check failed; will retry", error=repr(error))
                for key in due:
                    if (watch := self._watches.get(key)) is not None:
                        self._schedule_check(key, watch, now)
                continue
            for key, seconds in zip(due, remaining, strict=True):
                watch = self._watches.get(key)
                if watch is None:
                    continue
                if seconds is None:
                    await self._end(key, "expired")
                else:
                    self._schedule_check(key, watch, now + seconds)
