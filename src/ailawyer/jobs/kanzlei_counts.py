"""How many jobs of a queue each Kanzlei has, per state: what a Kanzlei's ADMIN sees as counts.

bullmq counts a queue per state in O(1), but knows nothing of Kanzleien: a job's Kanzlei is
in its payload (`kanzleiId`). So the jobs are read in chunks by a read-only Lua script that
tallies them by Kanzlei (`bullmq_adapter.tally`), one pass over the whole queue for every
Kanzlei at once, and the result is reused for CENSUS_SECONDS per process
(`KanzleiCounts`): the counts a Kanzlei's ADMIN sees lag by up to that. Cost with 100,000
jobs: bench/RESULTS.md ("Job explorer per Kanzlei").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bullmq import Queue
from redis.asyncio import Redis

from ailawyer.jobs.bullmq_adapter import STATES, QueueCounts, tally

# How long one census of a queue is reused by a process.
CENSUS_SECONDS = 10.0


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

    def __init__(
        self, redis: Redis, queue: Callable[[str], Queue], *, seconds: float = CENSUS_SECONDS
    ) -> None:
        self.redis = redis
        self.queue = queue
        self.seconds = seconds
        self._censuses: dict[str, Census] = {}
        self._scans: dict[str, asyncio.Task[Census]] = {}

    async def counts(self, queue_name: str, kanzlei_id: int) -> QueueCounts:
        """The jobs of Kanzlei `kanzlei_id` in `queue_name` per state, and the pause flag."""
        census = await self.census(queue_name)
        own = census.by_kanzlei.get(kanzlei_id, {})
        paused = await self.queue(queue_name).isPaused()
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
        queue = self.queue(queue_name)
        by_kanzlei: dict[int | None, dict[str, int]] = {}
        for state in STATES:
            for kanzlei_id, count in (await tally(self.redis, queue, state)).items():
                by_kanzlei.setdefault(kanzlei_id, {})[state] = count
        census = Census(taken=taken, by_kanzlei=by_kanzlei)
        self._censuses[queue_name] = census
        return census
