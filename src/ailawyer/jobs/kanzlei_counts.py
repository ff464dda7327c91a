"""How many jobs of a queue each Kanzlei has, per state: what a Kanzlei's ADMIN sees as counts.

bullmq counts a queue per state in O(1), but knows nothing of Kanzleien: a job's Kanzlei is
in its payload (`kanzleiId`). So the jobs are read in chunks by a read-only Lua script that
tallies them by Kanzlei, one pass over the whole queue for every Kanzlei at once, and the
result is reused for CENSUS_SECONDS per process (`KanzleiCounts`): the counts a Kanzlei's
ADMIN sees lag by up to that. Cost with 100,000 jobs: bench/RESULTS.md ("Job explorer per
Kanzlei").

The bulk actions use the same script to say which Kanzleien's jobs they touch (`tally`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bullmq import Queue
from redis.asyncio import Redis

from ailawyer.jobs.counts import LIST_STATES, STATES, QueueCounts, state_key

if TYPE_CHECKING:
    from ailawyer.jobs.queues import JobQueues

# A job's Kanzlei in its raw JSON, as a Lua pattern. Payloads of the queues that hold Kanzlei
# jobs are flat, typed and written by us (`JobPayload`): the first match is the top-level
# field. bullmq writes compact JSON; the optional blank is for other writers.
KANZLEI_PATTERN = '"kanzleiId":%s*(%d+)'
# Jobs one Lua call reads (a few milliseconds of Redis time; others get their turn between).
CHUNK = 1000
# How long one census of a queue is reused by a process.
CENSUS_SECONDS = 10.0

# Read-only, without the Redis 7 `#!lua flags=no-writes` line (the embedded fallback Redis
# is 6.2). One slice of a state: a list (LRANGE), a sorted set newest first (ZREVRANGE), or a
# sorted set by score up to ARGV[5] (ZRANGEBYSCORE: finished up to a moment). Returns the
# number of ids read and, per Kanzlei ("" for jobs without one), how many of them it has.
# An id whose hash is gone (removed meanwhile) is not counted.
_TALLY_SCRIPT = f"""
local ids
local first, count = tonumber(ARGV[3]), tonumber(ARGV[4])
if ARGV[2] == "l" then
  ids = redis.call("LRANGE", KEYS[1], first, first + count - 1)
elseif ARGV[2] == "z" then
  ids = redis.call("ZREVRANGE", KEYS[1], first, first + count - 1)
else
  ids = redis.call("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[5], "LIMIT", first, count)
end
local tally = {{}}
for _, id in ipairs(ids) do
  local data = redis.call("HGET", ARGV[1] .. id, "data")
  if data then
    local kanzlei = string.match(data, '{KANZLEI_PATTERN}') or ""
    tally[kanzlei] = (tally[kanzlei] or 0) + 1
  end
end
local flat = {{}}
for kanzlei, n in pairs(tally) do
  flat[#flat + 1] = kanzlei
  flat[#flat + 1] = n
end
return {{#ids, flat}}
"""


async def tally(
    redis: Redis, queue: Queue, state: str, up_to_ms: int | None = None
) -> Counter[int | None]:
    """How many jobs of `state` each Kanzlei has (None: jobs of no Kanzlei); with `up_to_ms`,
    only the finished or created up to then (the score of a sorted set), as a bulk action
    selects them."""
    script = redis.register_script(_TALLY_SCRIPT)
    key = queue.toKey(state_key(state))
    # A list has no times: a bulk action takes all of it (see actions.count_affected).
    by_score = up_to_ms is not None and state not in LIST_STATES
    mode = "s" if by_score else ("l" if state in LIST_STATES else "z")
    result: Counter[int | None] = Counter()
    offset = 0
    while True:
        read, flat = await script(
            keys=[key], args=[queue.toKey(""), mode, offset, CHUNK, up_to_ms or 0]
        )
        for kanzlei, count in zip(flat[::2], flat[1::2], strict=True):
            result[int(kanzlei) if kanzlei else None] += int(count)
        offset += int(read)
        if int(read) < CHUNK:
            return result


@dataclass(frozen=True)
class Census:
    """Per Kanzlei (None: no Kanzlei), how many jobs of one queue are in each state."""

    taken: float  # time.monotonic() when the scan began
    by_kanzlei: Mapping[int | None, Mapping[str, int]]


class KanzleiCounts:
    """The per-Kanzlei counts of each queue, scanned at most every CENSUS_SECONDS.

    Concurrent requests for the same queue share one scan. Holds one census per queue of
    Kanzlei jobs (a few bytes per Kanzlei).
    """

    def __init__(self, jobs: JobQueues, *, seconds: float = CENSUS_SECONDS) -> None:
        self.jobs = jobs
        self.seconds = seconds
        self._censuses: dict[str, Census] = {}
        self._scans: dict[str, asyncio.Task[Census]] = {}

    async def counts(self, queue_name: str, kanzlei_id: int) -> QueueCounts:
        """The jobs of Kanzlei `kanzlei_id` in `queue_name` per state, and the pause flag."""
        census = await self.census(queue_name)
        own = census.by_kanzlei.get(kanzlei_id, {})
        paused = await self.jobs.queue(queue_name).isPaused()
        return QueueCounts(counts={state: own.get(state, 0) for state in STATES}, paused=paused)

    async def census(self, queue_name: str) -> Census:
        """The last census of the queue if recent enough, else a new one."""
        census = self._censuses.get(queue_name)
        if census is not None and time.monotonic() - census.taken < self.seconds:
            return census
        scan = self._scans.get(queue_name)
        if scan is None:
            scan = asyncio.ensure_future(self._scan(queue_name))
            self._scans[queue_name] = scan
            scan.add_done_callback(lambda _: self._scans.pop(queue_name, None))
        # Shielded: one caller giving up (a closed request) must not cancel the others' scan.
        return await asyncio.shield(scan)

    async def _scan(self, queue_name: str) -> Census:
        taken = time.monotonic()
        queue = self.jobs.queue(queue_name)
        by_kanzlei: dict[int | None, dict[str, int]] = {}
        for state in STATES:
            for kanzlei_id, count in (await tally(self.jobs.redis, queue, state)).items():
                by_kanzlei.setdefault(kanzlei_id, {})[state] = count
        census = Census(taken=taken, by_kanzlei=by_kanzlei)
        self._censuses[queue_name] = census
        return census
