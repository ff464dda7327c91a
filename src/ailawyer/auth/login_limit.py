"""Limits on failed logins, per account and client address and per client address alone.

Every attempt first reserves one try under each limit, atomically in one Lua script, and
only then is the password checked (slow: argon2). Checking the limit first and counting
the failure after the check let 20 parallel wrong passwords all through; a reservation
cannot be overtaken. A failed login keeps its reservation: it is the failure. A successful
one ends the account's count and gives the address its try back.

- The account limit (e-mail + address) stops guessing one person's password. Keyed with
  the address too, so nobody elsewhere can lock a person out by typing wrong passwords.
- The address limit (all e-mails) stops one client from guessing across many accounts and
  from keeping the server busy with argon2 by cycling e-mail addresses. It is larger: a
  law firm's staff often share one public address.

The script uses only Redis commands of 6.2 and later (no `EXPIRE … NX`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS: one counter per limit. ARGV: per limit its maximum and window in milliseconds.
# If any counter is at its maximum nothing is counted and the script answers how long
# until that limit frees a try (the longest of those at their maximum) and its index;
# otherwise every counter is incremented (a new one starts its window) and it answers 0.
_RESERVE = """
local wait, blocking = 0, 0
for i, key in ipairs(KEYS) do
  if tonumber(redis.call("GET", key) or "0") >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call("PTTL", key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call("PEXPIRE", key, ttl)
    end
    if ttl > wait then
      wait, blocking = ttl, i
    end
  end
end
if wait > 0 then
  return {wait, blocking}
end
for i, key in ipairs(KEYS) do
  -- The window starts at the first try and is not extended by later ones.
  if redis.call("INCR", key) == 1 or redis.call("PTTL", key) < 0 then
    redis.call("PEXPIRE", key, ARGV[2 * i])
  end
end
return {0, 0}
"""

# KEYS[1]: the account counter, ended; KEYS[2]: the address counter, one try given back.
_SUCCEEDED = """
redis.call("DEL", KEYS[1])
if tonumber(redis.call("GET", KEYS[2]) or "0") > 0 then
  redis.call("DECR", KEYS[2])
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """At most `max_failures` tries within `window_seconds` from the first one."""

    max_failures: int
    window_seconds: int


@dataclass(frozen=True)
class Refusal:
    """A login refused before its password was checked."""

    retry_after: int  # seconds until the limit frees a try
    limit: str  # "account" or "address", for the log


class LoginLimiter:
    """Reserves a try under both limits before a password check; see the module."""

    def __init__(self, redis: Redis, *, prefix: str, account: Limit, address: Limit) -> None:
        self.redis = redis
        self.prefix = prefix
        self.account = account
        self.address = address
        self._reserve = redis.register_script(_RESERVE)
        self._succeeded = redis.register_script(_SUCCEEDED)

    def _keys(self, email: str, ip: str) -> list[str]:
        # Hashed so the key space holds neither e-mail nor client addresses.
        account = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()
        address = hashlib.sha256(ip.encode()).hexdigest()
        return [
            f"{self.prefix}:login-failures:{account}",
            f"{self.prefix}:login-failures-address:{address}",
        ]

    async def reserve(self, email: str, ip: str) -> Refusal | None:
        """Reserve one try for `email` from `ip`; a Refusal (nothing counted) if a limit is full."""
        args: list[int] = []
        for limit in (self.account, self.address):
            args += (limit.max_failures, limit.window_seconds * 1000)
        wait_ms, blocking = await self._reserve(keys=self._keys(email, ip), args=args)
        if int(wait_ms) <= 0:
            return None
        return Refusal(
            retry_after=max(1, math.ceil(int(wait_ms) / 1000)),
            limit=("account", "address")[int(blocking) - 1],
        )

    async def succeeded(self, email: str, ip: str) -> None:
        """The reserved try was the right password: end the account's count, return the try."""
        await self._succeeded(keys=self._keys(email, ip))
