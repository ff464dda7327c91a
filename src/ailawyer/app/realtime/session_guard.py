"""Keeps every socket inside the life of its session, in each app process.

Two ways a session ends, and how each reaches the sockets of this process:
1. Ended on purpose (logout, deactivation) by any process: `SessionStore.end` deletes the
   key and publishes on the control channel in one transaction; we disconnect at once.
2. Run out (idle TTL or absolute end): Redis just drops the key, nobody announces it.
   Each watched session is re-checked when its TTL says it could be gone, and at least
   every RECHECK_SECONDS, which also covers a control message lost to a Redis blip.
Sockets are never cut by a decision of this process alone: Redis holds the truth.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ailawyer.auth.sessions import SessionStore
from ailawyer.logs import get_logger

log = get_logger(__name__)

RECHECK_SECONDS = 5.0
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
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, session_key: str, sid: str, ttl_seconds: float) -> None:
        """Watch `sid` as a socket of `session_key`, whose key lives `ttl_seconds` more."""
        watch = self._watches.setdefault(session_key, _Watch())
        watch.sids.add(sid)
        watch.check_at = min(watch.check_at, time.monotonic() + min(ttl_seconds, RECHECK_SECONDS))

    def discard(self, session_key: str, sid: str) -> None:
        """Stop watching a socket that disconnected."""
        watch = self._watches.get(session_key)
        if watch is None:
            return
        watch.sids.discard(sid)
        if not watch.sids:
            del self._watches[session_key]

    def recheck_all(self) -> None:
        """Re-verify every session soon (after a Redis failure control messages may be lost)."""
        for watch in self._watches.values():
            watch.check_at = 0.0

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

    async def _sweep(self) -> None:
        """Re-check sessions that are due; cut those Redis no longer has."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = time.monotonic()
            due = [key for key, watch in self._watches.items() if watch.check_at <= now]
            if not due:
                continue
            try:
                remaining = await self._sessions.remaining_seconds_many(due)
            except Exception as error:
                # Redis away: keep the sockets; deciding without Redis would log everyone out.
                log.warning("session check failed; will retry", error=repr(error))
                continue
            for key, seconds in zip(due, remaining, strict=True):
                watch = self._watches.get(key)
                if watch is None:
                    continue
                if seconds is None:
                    await self._end(key, "expired")
                else:
                    watch.check_at = now + min(seconds, RECHECK_SECONDS)
