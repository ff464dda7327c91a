"""python-socketio's Redis manager, told when its subscription returns after a Redis failure,
and delivering per-user events.

Per-user events (`Emitter.to_each_member`) are one Redis message for many users, each of
whom gets its own data (a role notification: every member's id and seq). Such a message
arrives as an emit to `PER_USER_NAMESPACE`, in which no socket is; the manager sends each
named user its own event instead, only to the user rooms with sockets in this process, so
no process encodes events for sockets it does not hold.

Events published while an app process is not subscribed are gone (Redis pub/sub keeps
nothing). Sockets that stayed connected through such a gap would never learn of them,
so after every resubscription the server asks its clients to catch up from the
database. The stock listener cannot report this: redis-py reconnects and resubscribes
by itself within its retry budget, silently. The listener here therefore uses its own
connection without retries, so every interruption surfaces and is answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from engineio import packet as eio_packet
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from socketio import AsyncRedisManager
from socketio import packet as socketio_packet

from ailawyer.logs import get_logger
from ailawyer.realtime.emitter import (
    NAMESPACE,
    PER_USER_NAMESPACE,
    socketio_channel,
    socketio_logger,
)
from ailawyer.realtime.rooms import user_room
from ailawyer.redis_client import redis_options

log = get_logger(__name__)

# Redis restarts in seconds (AOF); a long back-off would only lengthen the gap.
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 3.0
# Members whose frames are queued before the writers get the loop: a yield per member was
# an event-loop pass (and an epoll call) per member.
YIELD_EVERY = 50


class RealtimeRedisManager(AsyncRedisManager):
    """AsyncRedisManager whose listener calls `on_resubscribed` after each recovery, and
    which hands out per-user events."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        *,
        on_resubscribed: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(
            redis_url,
            channel=socketio_channel(prefix),
            logger=socketio_logger(),
            redis_options=redis_options(),
        )
        self._on_resubscribed = on_resubscribed

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """An emit for this process: from Redis (another process's) or from this process's
        own `emit`, which sends locally through here before it publishes."""
        if message.get("namespace") != PER_USER_NAMESPACE:
            await super()._handle_emit(message)
            return
        # Published with one argument, never binary (`per_user` data is JSON).
        [data] = message["data"]
        await self._send_each(message["event"], data)

    async def _send_each(self, event: str, data: dict[str, Any]) -> None:
        """Send each user of a per-user event its own event, to its sockets in this process."""
        here = self.rooms.get(NAMESPACE, {})
        frames = MemberFrames(event, data["shared"], self.server.packet_class.json.dumps)
        queued = 0
        for user_id, fields in data["users"]:
            room = user_room(int(user_id))
            if room not in here:
                continue
            # What `AsyncManager.emit` does for one room, without its task per socket and
            # its scan of the data for binary parts (JSON here): at a thousand members those
            # were half of this loop's time.
            message = eio_packet.Packet(eio_packet.MESSAGE, frames.frame(fields))
            for _sid, eio_sid in self.get_participants(NAMESPACE, room):
                await self.server.eio.send_packet(eio_sid, message)
            queued += 1
            if queued % YIELD_EVERY == 0:
                # Sending only queues the frame: let the sockets' writers send these while
                # the next members' frames are built.
                await asyncio.sleep(0)

    async def _listen(self) -> AsyncIterator[bytes]:
        """Yield messages of our channel forever, reconnecting after any failure."""
        channel = self.channel.encode()
        delay = RETRY_FIRST_SECONDS
        interrupted = False
        while True:
            listener = Redis.from_url(
                self.redis_url, **{**redis_options(), "retry": Retry(NoBackoff(), 0)}
            )
            pubsub = listener.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if interrupted:
                    log.info("socket.io subscription restored")
                    interrupted = False
                    await self._on_resubscribed()
                delay = RETRY_FIRST_SECONDS
                async for message in pubsub.listen():
                    if message["type"] == "message" and message["channel"] == channel:
                        yield message["data"]
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning(
                    "socket.io subscription lost; retrying", error=repr(error), retryIn=delay
                )
                interrupted = True
            finally:
                await _close_quietly(pubsub, listener)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)


class MemberFrames:
    """The Socket.IO frames of one `per_user` event, one per user: exactly what
    `socketio.packet.Packet(EVENT, data=[event, payload]).encode()` gives for the user's
    payload of `each_user`, but the shared part is encoded once and per user only its
    own fields (a thousand members' payloads differ only in id and seq)."""

    def __init__(self, event: str, shared: Mapping[str, Any], dumps: Callable[..., str]) -> None:
        # `dumps`: the JSON encoder the server's packets use.
        self._event = event
        self._shared = shared
        self._dumps = dumps
        # '2["event",{shared}]' without its closing '}]': each frame continues it.
        self._head = self._encode(shared)[:-2]

    def _encode(self, payload: Mapping[str, Any]) -> str:
        return str(socketio_packet.EVENT) + self._dumps(
            [self._event, payload], separators=(",", ":")
        )

    def frame(self, fields: Mapping[str, Any]) -> str:
        """The frame for the user whose own fields are `fields`."""
        if not fields or not self._shared or not fields.keys().isdisjoint(self._shared):
            # The merged dict's key order is not the concatenation: encode it whole.
            return self._encode({**self._shared, **fields})
        own = self._dumps(fields, separators=(",", ":"))
        return f"{self._head},{own[1:-1]}}}]"


async def _close_quietly(*resources: Any) -> None:
    for resource in resources:
        try:
            await resource.aclose()
        except Exception as error:  # a dead connection may fail to close; it is gone anyway
            log.debug("closing a redis connection failed", error=repr(error))
