"""Server-side sessions in Redis, shared by pages, APIs and the Socket.IO handshake.

The cookie holds a random token; Redis stores the session under the token's SHA-256,
so a Redis dump reveals no usable cookie. Idle expiry is the key's TTL, renewed on use;
absolute expiry is checked against the creation time on every load.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

SESSION_COOKIE = "ailawyer_session"


@dataclass(frozen=True)
class Session:
    key: str  # SHA-256 of the cookie token: identifies the session everywhere but the cookie
    user_id: int
    created_at: float
    expires_at: float  # absolute end


def session_key(token: str) -> str:
    """The id a token's session is stored and announced under."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Creates, loads and ends sessions; announces ended sessions on the control channel."""

    def __init__(
        self, redis: Redis, *, prefix: str, idle_seconds: int, absolute_seconds: int
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    @property
    def control_channel(self) -> str:
        """Pub/sub channel on which every app process hears of ended sessions."""
        return f"{self.prefix}:control:sessions"

    def _key(self, key: str) -> str:
        return f"{self.prefix}:session:{key}"

    def _user_index(self, user_id: int) -> str:
        return f"{self.prefix}:user-sessions:{user_id}"

    async def create(self, user_id: int, *, ip: str | None, user_agent: str | None) -> str:
        """Start a session for `user_id`; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        key = session_key(token)
        now = time.time()
        record = {
            "user_id": str(user_id),
            "created_at": repr(now),
            "ip": ip or "",
            "user_agent": (user_agent or "")[:300],
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(key), mapping=record)
            pipe.expire(self._key(key), self._ttl(now, now))
            pipe.sadd(self._user_index(user_id), key)
            pipe.expire(self._user_index(user_id), self.absolute_seconds)
            await pipe.execute()
        return token

    async def load(self, token: str, *, touch: bool = True) -> Session | None:
        """The live session of `token`, renewing its idle timeout; None if unknown or expired."""
        key = session_key(token)
        if touch:
            # Read and renew in one round trip (every signed-in request pays it); renewing
            # an unknown key does nothing. Only in its last idle period does a session need
            # a second EXPIRE, down to its absolute end.
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(self._key(key))
                pipe.expire(self._key(key), self.idle_seconds)
                record, _ = await pipe.execute()
        else:
            record = await self.redis.hgetall(self._key(key))
        if not record:
            return None
        session = Session(
            key=key,
            user_id=int(record["user_id"]),
            created_at=float(record["created_at"]),
            expires_at=float(record["created_at"]) + self.absolute_seconds,
        )
        now = time.time()
        if now >= session.expires_at:
            await self.end(key, user_id=session.user_id, reason="expired")
            return None
        if touch and session.expires_at - now < self.idle_seconds:
            await self.redis.expire(self._key(key), self._ttl(session.created_at, now))
        return session

    async def end(self, key: str, *, user_id: int | None = None, reason: str = "logout") -> None:
        """Delete a session and tell every app process to disconnect its sockets."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(key))
            if user_id is not None:
                pipe.srem(self._user_index(user_id), key)
            pipe.publish(self.control_channel, json.dumps({"session": key, "reason": reason}))
            await pipe.execute()

    async def end_all_for_user(self, user_id: int, *, reason: str = "logout") -> int:
        """End every session of a user (deactivation, password change); returns how many."""
        keys = await self.redis.smembers(self._user_index(user_id))
        for key in keys:
            await self.end(key, user_id=user_id, reason=reason)
        return len(keys)

    async def remaining_seconds(self, key: str) -> float | None:
        """Seconds until the session ends by idle timeout; None if it is gone."""
        ttl = await self.redis.pttl(self._key(key))
        return ttl / 1000 if ttl > 0 else None

    async def remaining_seconds_many(self, keys: Sequence[str]) -> list[float | None]:
        """`remaining_seconds` of many sessions in one round trip (the socket server's sweep)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(self._key(key))
            ttls = await pipe.execute()
        return [ttl / 1000 if ttl > 0 else None for ttl in ttls]

    def _ttl(self, created_at: float, now: float) -> int:
        remaining_absolute = created_at + self.absolute_seconds - now
        return max(1, int(min(self.idle_seconds, remaining_absolute)))
