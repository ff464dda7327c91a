"""Every client's job changes for this app process's explorer pages: bullmq's events streams.

Our workers report their own changes (`jobs/activity.py`), but Bull Board, Node's BullMQ or a
script move and remove jobs too. bullmq's scripts write every change, whoever made it, to the
queue's events stream (the one Node's queue-events listener reads; bullmq 3.4.4's own
listener stops for good after one connection error: docs/ARCHITECTURE.md, bullmq pitfalls). One task
per app process reads the streams of every declared queue, and of every queue found in Redis
when an explorer page joins, with one blocking XREAD, and hands each change to a
`JobActivity` that sends only to this process's own sockets: every app process reads the
streams itself, so publishing to the others would send each update once per process.

- A job's Kanzlei comes from its data, by the access rules (`jobs/access.job_owner`), read
  once per job and kept in a bounded map (a job's changes come in bursts).
- A removed job's data is gone with it: its Kanzlei is known if the map still holds it; if
  not, the operator's room gets its id and each Kanzlei's room open here a refresh without
  one (`jobs: []`: the page fetches its lists again and sees only its own jobs).
- Our own workers' updates reach the same pages too; the page is idempotent (it fetches
  fragments again, at most once a second each), so a second update costs one fetch at most.
- After a Redis error it waits and starts again from the streams' current ends: the pages
  fetch everything again when their socket reconnects.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import Redis

from ailawyer.jobs.access import holds_kanzlei_jobs, job_owner
from ailawyer.jobs.activity import JobActivity
from ailawyer.jobs.bullmq_adapter import (
    EVENT_STATES,
    REMOVED,
    QueueEvent,
    events_ends,
    events_key,
    parse_event,
)
from ailawyer.jobs.queues import JobQueues
from ailawyer.logs import get_logger
from ailawyer.realtime.rooms import explorer_room_kanzlei, job_explorer_room

log = get_logger(__name__)

# How long one XREAD waits for an entry; also how soon a newly found queue is read.
BLOCK_MS = 1000
# Entries one XREAD returns at most (per stream).
READ_COUNT = 500
# Jobs whose Kanzlei is remembered (a removed job's data is gone).
KNOWN_JOBS = 10_000
RETRY_SECONDS = 1.0
# Least time between two scans for new queues when explorer pages join.
DISCOVER_SECONDS = 1.0


class LocalOnly:
    """An emit backend that sends to this process's sockets only (`ignore_queue`)."""

    def __init__(self, server: Any) -> None:
        self._server = server

    async def emit(self, event: str, data: Any, *, to: str, namespace: str) -> None:
        await self._server.emit(event, data, to=to, namespace=namespace, ignore_queue=True)


class EventsStreamReader:
    """Reads every queue's events stream and reports the changes to the explorer rooms open
    in this process (`local_rooms()`: the names of the rooms that have sockets here)."""

    def __init__(
        self,
        redis: Redis,
        jobs: JobQueues,
        activity: JobActivity,
        local_rooms: Callable[[], Iterable[str]],
    ) -> None:
        self.redis = redis
        self.jobs = jobs
        self.activity = activity
        self._local_rooms = local_rooms
        self._kanzlei_of: OrderedDict[tuple[str, str], int | None] = OrderedDict()
        # Stream key -> the id read last, and the queue it belongs to.
        self._positions: dict[str, str] = {}
        self._queue_of: dict[str, str] = {}
        self._discovering = asyncio.Lock()
        self._discovered_at = -DISCOVER_SECONDS
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin reading in a task of its own."""
        self._task = asyncio.create_task(self._run(), name="queue-events")

    async def stop(self) -> None:
        """Stop reading, send what is noted, and release the connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.activity.close()
        await self.redis.aclose()

    async def watch_new_queues(self) -> None:
        """Follow queues created since the last look, from their current ends; called when
        an explorer page joins, so the queue it shows is followed before it can change.

        One scan of the key space (`JobQueues.discover`) at most every DISCOVER_SECONDS:
        thousands of pages reconnecting after a restart share one."""
        async with self._discovering:
            if time.monotonic() - self._discovered_at < DISCOVER_SECONDS:
                return
            await self._follow_queues(await self.jobs.discover())
            self._discovered_at = time.monotonic()

    async def _follow_queues(self, names: Iterable[str]) -> None:
        keys = {events_key(self.jobs.queue(name)): name for name in names}
        new = [key for key in keys if key not in self._positions]
        if new:
            # Read before they are followed: XREAD must never see a key without a position.
            ends = await events_ends(self.redis, new)
            self._queue_of.update({key: keys[key] for key in new})
            self._positions.update(ends)

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except Exception as error:
                log.warning("queue events not read; starting again", error=repr(error))
                # Redis may have lost or replaced the streams: start again from their ends.
                self._positions.clear()
                await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        """Read on from the streams' ends until an error; new queues join as they are found."""
        while True:
            # The declared queues and those found when a page joined: no scan of the key
            # space here, so a process without explorer pages never makes one.
            await self._follow_queues({*self.jobs.definitions, *self._queue_of.values()})
            answer = await self.redis.xread(dict(self._positions), count=READ_COUNT, block=BLOCK_MS)
            for key, entries in answer or []:
                self._positions[key] = entries[-1][0]
                parsed = [parse_event(fields) for _, fields in entries]
                await self._report(self._queue_of[key], [event for event in parsed if event])

    async def _report(self, queue: str, changes: list[QueueEvent]) -> None:
        rooms = {room for room in self._local_rooms() if isinstance(room, str)}
        operator = job_explorer_room(None) in rooms
        kanzleien = {k for k in map(explorer_room_kanzlei, rooms) if k is not None}
        if not changes or not (operator or kanzleien):
            return
        kanzlei_jobs = holds_kanzlei_jobs(queue)
        if kanzlei_jobs and kanzleien:
            await self._learn(queue, [c.job_id for c in changes if c.name != REMOVED])
        for change in changes:
            if change.job_id is None:  # the whole queue: every room may show it
                self.activity.changed(queue)
                for kanzlei_id in kanzleien if kanzlei_jobs else ():
                    self.activity.changed(queue, kanzlei_id=kanzlei_id)
                continue
            state = EVENT_STATES[change.name]
            known = (queue, change.job_id) in self._kanzlei_of
            if change.name == REMOVED:
                kanzlei_id = self._kanzlei_of.pop((queue, change.job_id), None)
            else:
                kanzlei_id = self._kanzlei_of.get((queue, change.job_id))
            self.activity.changed(queue, change.job_id, state, kanzlei_id)
            if kanzlei_jobs and change.name == REMOVED and not known:
                for other in kanzleien:
                    self.activity.changed(queue, kanzlei_id=other)

    async def _learn(self, queue: str, job_ids: list[str | None]) -> None:
        """Read the Kanzlei of the jobs not known yet (one pipeline for the whole batch)."""
        unknown = list(
            dict.fromkeys(i for i in job_ids if i and (queue, i) not in self._kanzlei_of)
        )
        if not unknown:
            return
        bull = self.jobs.queue(queue)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in unknown:
                pipe.hget(bull.toKey(job_id), "data")
            answers = await pipe.execute()
        for job_id, raw in zip(unknown, answers, strict=True):
            self._kanzlei_of[(queue, job_id)] = job_owner(queue, _json(raw)).kanzlei_id
        while len(self._kanzlei_of) > KNOWN_JOBS:
            self._kanzlei_of.popitem(last=False)


def _json(raw: str | None) -> Any:
    """Job data as stored (anybody's JSON: lenient)."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
