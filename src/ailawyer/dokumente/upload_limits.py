"""How much may be uploaded: a rate per user (Redis) and the storage of each Kanzlei (database).

Both limits are runtime settings (`uploads.*`), installation-wide, and hold across every
app process:

- **Rate per user**: files and bytes within a fixed window of an hour that starts with the
  user's first accepted upload. One Lua script checks and counts in a single step, so
  parallel requests on any number of processes cannot both pass the last free slot; an
  upload refused later (quota, a failed enqueue) gives its share back. Fixed, not sliding:
  at a window's end a user may send up to twice the hourly amount in a short time; the
  Kanzlei's storage bounds what that can cost.
- **Storage per Kanzlei**: the sum of `Dokument.size_bytes` of its Akten. Decided after the
  rows are inserted, in the inserting transaction, with the Kanzlei's row locked
  (`FOR NO KEY UPDATE`): two uploads of one Kanzlei take turns for that short moment, the
  second sees the first's rows, and the total never exceeds the quota (on PostgreSQL; on
  SQLite the insert takes the database's write lock, with the same effect). The lock is
  not held while files are written: they are stored first and deleted if the check fails.
  The sum is linear in the Kanzlei's Dokumente (bench/RESULTS.md, "Uploads": p50 26 ms at
  10,000, 212 ms at 100,000); far beyond that, keep a running total under the same lock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, Dokument, Kanzlei
from ailawyer.logs import get_logger
from ailawyer.runtime_settings.definitions import (
    UPLOAD_FILES_PER_HOUR,
    UPLOAD_KANZLEI_QUOTA_MB,
    UPLOAD_MB_PER_HOUR,
)

if TYPE_CHECKING:
    from ailawyer.runtime_settings.service import RuntimeSettings

log = get_logger(__name__)

MB = 1024 * 1024
RATE_WINDOW_SECONDS = 3600

# KEYS[1] the user's counter (hash: files, bytes); ARGV: files, bytes, max files, max bytes,
# window in ms. Returns {accepted 0|1, files, bytes, ms until the window ends}: the counts
# after the upload when accepted, before it when refused. PTTL and PEXPIRE instead of
# `EXPIRE … NX`: the embedded fallback Redis is 6.2.
_RESERVE = """
local files = tonumber(redis.call('HGET', KEYS[1], 'files') or '0')
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
local add_files, add_bytes = tonumber(ARGV[1]), tonumber(ARGV[2])
if files + add_files > tonumber(ARGV[3]) or bytes + add_bytes > tonumber(ARGV[4]) then
  return {0, files, bytes, redis.call('PTTL', KEYS[1])}
end
files = redis.call('HINCRBY', KEYS[1], 'files', add_files)
bytes = redis.call('HINCRBY', KEYS[1], 'bytes', add_bytes)
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return {1, files, bytes, redis.call('PTTL', KEYS[1])}
"""
# Gives a reservation back, only to the window it was taken from: after the window ended
# the key is gone, and a decrement would start a counter without expiry below zero.
_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'files', -tonumber(ARGV[1]))
  redis.call('HINCRBY', KEYS[1], 'bytes', -tonumber(ARGV[2]))
end
return 0
"""


class UploadRefused(Exception):
    """The upload cannot be accepted; `message` is German, `status` the HTTP status.

    `retry_after`: seconds until the same upload may succeed (a 429's Retry-After).
    """

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


def _mb(size: int) -> str:
    """Bytes as megabytes for a German message: "1.234,5 MB"."""
    text = f"{size / MB:,.1f}".replace(",", "\0").replace(".", ",").replace("\0", ".")
    return f"{text} MB"


def _minutes(milliseconds: int) -> str:
    minutes = max(1, math.ceil(milliseconds / 60_000))
    return "einer Minute" if minutes == 1 else f"{minutes} Minuten"


@dataclass(frozen=True)
class Reservation:
    """A user's share of the current window, to give back if the upload is refused later."""

    key: str
    files: int
    size_bytes: int

    def part(self, dokumente: Sequence[Dokument]) -> Reservation:
        """The share of some of the reserved files (those refused after their rows existed)."""
        return Reservation(self.key, len(dokumente), sum(d.size_bytes for d in dokumente))


class UploadRate:
    """Files and bytes per user and hour, counted in Redis across every app process."""

    def __init__(self, redis: Redis, runtime: RuntimeSettings, *, prefix: str) -> None:
        self.redis = redis
        self.runtime = runtime
        self.prefix = prefix
        self._reserve = redis.register_script(_RESERVE)
        self._release = redis.register_script(_RELEASE)

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}:upload-rate:{user_id}"

    async def reserve(self, user_id: int, files: int, size_bytes: int) -> Reservation:
        """Count the upload against the user's hour, or UploadRefused (429) if over."""
        max_files = int(self.runtime.get(UPLOAD_FILES_PER_HOUR))
        max_bytes = int(self.runtime.get(UPLOAD_MB_PER_HOUR)) * MB
        limits = f"höchstens {max_files} Dateien und {_mb(max_bytes)} pro Stunde"
        if files > max_files or size_bytes > max_bytes:
            # No window would ever take this request: waiting would not help.
            raise UploadRefused(
                f"So viel können Sie nicht auf einmal hochladen ({limits}). "
                "Bitte teilen Sie die Dateien auf.",
                status=429,
            )
        key = self._key(user_id)
        accepted, used_files, used_bytes, ttl_ms = await self._reserve(
            keys=[key], args=[files, size_bytes, max_files, max_bytes, RATE_WINDOW_SECONDS * 1000]
        )
        if not accepted:
            ttl_ms = int(ttl_ms) if int(ttl_ms) > 0 else RATE_WINDOW_SECONDS * 1000
            raise UploadRefused(
                f"Sie haben in dieser Stunde bereits {int(used_files)} Dateien "
                f"({_mb(int(used_bytes))}) hochgeladen; erlaubt sind {limits}. "
                f"Bitte versuchen Sie es in {_minutes(ttl_ms)} erneut.",
                status=429,
                retry_after=math.ceil(ttl_ms / 1000),
            )
        return Reservation(key=key, files=files, size_bytes=size_bytes)

    async def release(self, reservation: Reservation) -> None:
        """Give a refused upload's share back (if its window has not ended meanwhile).

        Best effort: with Redis away the share stays counted until its window ends, and
        the refusal the caller is raising must not turn into a Redis error.
        """
        try:
            await self._release(
                keys=[reservation.key], args=[reservation.files, reservation.size_bytes]
            )
        except RedisError as error:
            log.warning("upload rate share not given back", error=str(error))


def quota_bytes(runtime: RuntimeSettings) -> int:
    """The storage each Kanzlei may use, in bytes."""
    return int(runtime.get(UPLOAD_KANZLEI_QUOTA_MB)) * MB


async def kanzlei_of_akte(session: AsyncSession, akte_id: int) -> int:
    """The Kanzlei an Akte belongs to."""
    return (await session.execute(select(Akte.kanzlei_id).where(Akte.id == akte_id))).scalar_one()


async def used_bytes(session: AsyncSession, kanzlei_id: int) -> int:
    """What the Dokumente of a Kanzlei occupy, as this transaction sees it."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Dokument.size_bytes), 0))
        .join(Akte, Akte.id == Dokument.akte_id)
        .where(Akte.kanzlei_id == kanzlei_id)
    )
    return int(total or 0)


async def lock_kanzlei_storage(session: AsyncSession, kanzlei_id: int) -> None:
    """Make the Kanzlei's uploads take turns until this transaction ends.

    NO KEY UPDATE, not UPDATE: inserting a user or an Akte of the Kanzlei (a foreign key
    to its row) only takes KEY SHARE, which this does not block.
    """
    await session.execute(
        select(Kanzlei.id).where(Kanzlei.id == kanzlei_id).with_for_update(key_share=True)
    )


def check_quota(runtime: RuntimeSettings, used: int, adding: int) -> None:
    """UploadRefused (413) when `adding` bytes on top of `used` exceed the quota."""
    quota = quota_bytes(runtime)
    if used + adding <= quota:
        return
    raise UploadRefused(
        f"Der Speicherplatz Ihrer Kanzlei reicht für diese Dateien nicht aus: belegt sind "
        f"{_mb(used)} von {_mb(quota)}, die Dateien brauchen {_mb(adding)}. "
        "Bitte wenden Sie sich an Ihre Administration.",
        status=413,
    )
