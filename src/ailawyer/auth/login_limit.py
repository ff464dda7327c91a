"""Limits failed logins per account and client address (brute-force protection)."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis


class LoginLimiter:
    """Counts failures in a fixed window; `max_failures` within it blocks further attempts."""

    def __init__(
        self, redis: Redis, *, prefix: str, max_failures: int, window_seconds: int
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_failures = max_failures
        self.window_seconds = window_seconds

    def _key(self, email: str, ip: str) -> str:
        # Hashed so the key space holds no e-mail addresses.
        digest = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()
        return f"{self.prefix}:login-failures:{digest}"

    async def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds until the next attempt is allowed, or None if attempts are allowed now."""
        key = self._key(email, ip)
        failures = await self.redis.get(key)
        if failures is None or int(failures) < self.max_failures:
            return None
        ttl = await self.redis.ttl(key)
        return max(ttl, 1)

    async def record_failure(self, email: str, ip: str) -> None:
        key = self._key(email, ip)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            # NX: the window starts at the first failure and is not extended by later ones.
            pipe.expire(key, self.window_seconds, nx=True)
            await pipe.execute()

    async def reset(self, email: str, ip: str) -> None:
        await self.redis.delete(self._key(email, ip))
