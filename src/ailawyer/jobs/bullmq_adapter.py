"""Everything we know about bullmq's Redis data model, in one place.

bullmq's API covers adding, counting and moving jobs, but not listing queues, searching,
counting per Kanzlei, or selecting finished jobs by time. Those read bullmq's keys
directly: `<prefix>:<queue>:meta` (one per queue), one key per state (`wait` for the
state its API calls "waiting"), one hash per job (`<prefix>:<queue>:<id>`, with `name`,
`data`, `opts`, timestamps), and the key suffixes beside them, a flow's links among them.
It also names a worker's connection the way Node's BullMQ does. The rest of the code asks
this module instead of spelling those names (docs/ARCHITECTURE.md, bullmq pitfalls).

The Lua scripts that only read go without the Redis 7 `#!lua flags=no-writes` line: the
embedded fallback Redis (6.2) refuses it. Each reads one bounded slice of a state per call
(a few milliseconds of Redis time), so others get their turn between calls. Two write: one
changes a waiting job's data, one frees a dead worker's locks (its active list is bounded
by the workers' concurrency).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bullmq import Queue, Worker
from bullmq.job import optsFromJSON
from bullmq.job_scheduler import default_repeat_strategy
from bullmq.redis_connection import RedisConnection
from redis.asyncio import Redis

# bullmq's state names (as its API spells them): first those before a job runs, then the
# running and the finished. "waiting-children" holds the parent of a flow (Node's
# FlowProducer) until its children have finished; then it moves to waiting.
STATES = (
    "waiting",
    "prioritized",
    "delayed",
    "waiting-children",
    "active",
    "completed",
    "failed",
)
# The states bullmq keeps in a list (newest first); the others are sorted sets.
LIST_STATES = frozenset({"waiting", "active"})
# bullmq's API says "waiting" where its Redis key says "wait".
_STATE_KEYS = {"waiting": "wait"}
# Key suffixes bullmq puts beside the job hashes of a queue (its queue_keys.py and Lua
# scripts): a job id equal to one of them would make bullmq read the queue's own keys.
KEY_SUFFIXES = frozenset(
    {
        "",
        "active",
        "cleanup",
        "completed",
        "de",
        "delayed",
        "events",
        "failed",
        "id",
        "limiter",
        "marker",
        "meta",
        "metrics",
        "paused",
        "pc",
        "prioritized",
        "repeat",
        "stalled",
        "stalled-check",
        "wait",
        "waiting-children",
    }
)
_META = "meta"
# A job's Kanzlei in its raw JSON, as a Lua pattern. Payloads of the queues that hold Kanzlei
# jobs are flat, typed and written by us (`JobPayload`): the first match is the top-level
# field. bullmq writes compact JSON; the optional blank is for other writers.
KANZLEI_PATTERN = '"kanzleiId":%s*(%d+)'
# Jobs one tally call reads.
TALLY_CHUNK = 1000
# Jobs one clean call removes, so a queue with a million old jobs never blocks Redis for long.
CLEAN_BATCH = 1000


def _state_key(queue: Queue, state: str) -> str:
    return queue.toKey(_STATE_KEYS.get(state, state))


# --- queues ------------------------------------------------------------------------------


async def scan_queue_names(redis: Redis, prefix: str) -> set[str]:
    """Every queue found in Redis under `prefix`: each that ever held a job has a meta hash
    (bullmq has no API to list queues). Reads every key name: keep the answer a while."""
    names: set[str] = set()
    head, tail = f"{prefix}:", f":{_META}"
    async for key in redis.scan_iter(match=f"{head}*{tail}", count=1000):
        name = key[len(head) : -len(tail)]
        # A job id or scheduler key containing ":meta" would have a colon in the middle.
        if name and ":" not in name:
            names.add(name)
    return names


async def queue_exists(redis: Redis, queue: Queue) -> bool:
    """Whether the queue ever held a job (its meta hash exists)."""
    return bool(await redis.exists(queue.toKey(_META)))


@dataclass(frozen=True)
class QueueCounts:
    """Jobs per state (every name in STATES) and the queue's pause flag."""

    counts: Mapping[str, int]
    paused: bool

    def to_json(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "paused": self.paused}


async def read_counts(queue: Queue) -> QueueCounts:
    """One LLEN/ZCARD per state (bullmq's getCounts script) and one HEXISTS: O(1) per queue."""
    counts, paused = await asyncio.gather(queue.getJobCounts(*STATES), queue.isPaused())
    return QueueCounts(
        counts={state: int(counts.get(state) or 0) for state in STATES}, paused=paused
    )


# --- workers as other clients see them -------------------------------------------------------


def node_worker_connection_name(prefix: str, queue_name: str, worker_name: str) -> str:
    """The name Node's BullMQ gives a worker's blocking connection, `<prefix>:<base64 of the
    queue name>:w:<worker name>`: its `Queue.getWorkers()` (and so Bull Board) counts the
    connections in CLIENT LIST named so, or exactly `<prefix>:<base64>`."""
    encoded = base64.b64encode(queue_name.encode()).decode()
    return f"{prefix}:{encoded}:w:{worker_name}"


class _NodeNamedConnection(RedisConnection):
    """A connection that keeps the name Node's BullMQ would give it, whatever name bullmq's
    Python Worker sets (it names every connection of a worker alike, in plain text)."""

    def __init__(self, client: Redis, name: str) -> None:
        super().__init__(client)
        self._name = name

    async def set_client_name(self, name: str) -> None:
        await super().set_client_name(self._name)


def give_blocking_connection(worker: Worker, client: Redis) -> None:
    """Let `worker` wait for jobs on `client` alone, a connection named the way Node's BullMQ
    names a worker's (`node_worker_connection_name`), so Node and Bull Board find it.

    bullmq's Python Worker blocks on a connection of its main client's pool and names the
    whole pool `<prefix>:<queue>:w:<name>` (what its own `Queue.get_workers` looks for). A
    Node worker names only its one blocking connection, so each worker is one entry there
    too; the main pool keeps bullmq's name. Call before `Worker.run()`; bullmq closes
    `client` with the worker.
    """
    name = node_worker_connection_name(worker.opts["prefix"], worker.name, worker.opts["name"])
    connection = _NodeNamedConnection(client, name)
    worker.backend.blocking_connection = connection
    worker.blockingRedisConnection = connection
    worker.bclient = client


# --- the locks of a worker that died --------------------------------------------------------


def lock_owner(worker: Worker) -> str:
    """What the lock of every job `worker` runs begins with: bullmq's lock token is
    `<Worker.id>:<n>` (its `Worker.run`), a fresh id per Worker object."""
    return f"{worker.id}:"


# Frees the locks held by the given owners on the jobs of one queue's active list and puts
# those jobs in the stalled set; a freed lock makes the queue's next stalled check due at
# once (it deletes `stalled-check`). Returns how many were freed. KEYS: active, stalled,
# stalled-check; ARGV[1]: the queue's key prefix (`<prefix>:<queue>:`), then the owners.
_RELEASE_LOCKS = """
local freed = 0
for _, jobId in ipairs(redis.call("LRANGE", KEYS[1], 0, -1)) do
  local lockKey = ARGV[1] .. jobId .. ":lock"
  local token = redis.call("GET", lockKey)
  if token then
    for i = 2, #ARGV do
      if string.sub(token, 1, #ARGV[i]) == ARGV[i] then
        redis.call("DEL", lockKey)
        redis.call("SADD", KEYS[2], jobId)
        freed = freed + 1
        break
      end
    end
  end
end
if freed > 0 then
  redis.call("DEL", KEYS[3])
end
return freed
"""


async def requeue_jobs_of(redis: Redis, worker: Worker, owners: Sequence[str]) -> int:
    """Move the jobs that the Workers `owners` (their `lock_owner`) ran on `worker`'s queue
    back to waiting now, instead of when their locks expire; returns how many locks were freed.

    Only for owners whose process is known to be dead: a live owner's job would run twice.
    The move itself is bullmq's stalled check (`moveStalledJobsToWait`), so each such job
    counts one stall (`maxStalledCount`) and emits "stalled", as after a lock that expired.
    """
    if not owners:
        return 0
    script = redis.register_script(_RELEASE_LOCKS)
    keys = [worker.keys[name] for name in ("active", "stalled", "stalled-check")]
    freed = int(await script(keys=keys, args=[worker.keys[""], *owners]))
    if freed:
        await worker.runStalledJobsCheck()
    return freed


# --- waiting jobs ---------------------------------------------------------------------------

# How many of the oldest entries of a wait list are inspected: a LIFO job is pushed to
# the other end, so the very last entry is not always the oldest.
_OLDEST_SAMPLE = 10


@dataclass(frozen=True)
class Waiting:
    """How many jobs of a queue wait, and since when (epoch seconds) the longest-waiting does."""

    count: int
    oldest_since: float | None


async def read_waiting(redis: Redis, prefix: str, queue_name: str) -> Waiting:
    """Waiting jobs of a queue, read without changing anything (a few commands, bounded).

    Waiting jobs are in the `wait` list (pushed left, taken from the right, so the oldest
    are at the right end), in the sorted set `prioritized`, and, for queues paused by an
    older bullmq, in `paused`. A job waits since it became due: its `timestamp` plus
    `delay`, or, after a failed attempt, since that attempt started.
    """
    key = f"{prefix}:{queue_name}"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.llen(f"{key}:wait")
        pipe.llen(f"{key}:paused")
        pipe.zcard(f"{key}:prioritized")
        pipe.lrange(f"{key}:wait", -_OLDEST_SAMPLE, -1)
        pipe.lrange(f"{key}:paused", -_OLDEST_SAMPLE, -1)
        pipe.zrange(f"{key}:prioritized", 0, _OLDEST_SAMPLE - 1)
        wait, paused, prioritized, *samples = await pipe.execute()
    job_ids = {job_id for sample in samples for job_id in sample}
    since: list[float] = []
    if job_ids:
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hmget(f"{key}:{job_id}", "timestamp", "delay", "processedOn")
            for timestamp, delay, processed_on in await pipe.execute():
                due = _waiting_since(timestamp, delay, processed_on)
                if due is not None:
                    since.append(due)
    return Waiting(
        count=int(wait) + int(paused) + int(prioritized),
        oldest_since=min(since) if since else None,
    )


def _waiting_since(timestamp: Any, delay: Any, processed_on: Any) -> float | None:
    created = _int(timestamp)
    if created is None:  # the job hash is gone (removed meanwhile)
        return None
    due_ms = max(created + (_int(delay) or 0), _int(processed_on) or 0)
    return due_ms / 1000


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- selecting and removing jobs by time ---------------------------------------------------


async def count_up_to(redis: Redis, queue: Queue, state: str, up_to_ms: int) -> int:
    """How many jobs of `state` `clean_state(…, up_to_ms)` removes: finished jobs by their
    finish time (the score of their set), the others all of them (waiting ones have no
    time; bullmq cleans the delayed and prioritized sets whole too)."""
    key = _state_key(queue, state)
    if state in LIST_STATES:
        return int(await redis.llen(key))
    if state in ("completed", "failed"):
        return int(await redis.zcount(key, "-inf", up_to_ms))
    return int(await redis.zcard(key))


async def failed_ids_up_to(
    redis: Redis, queue: Queue, up_to_ms: int, *, start: int, count: int
) -> list[str]:
    """Ids of up to `count` jobs that failed up to `up_to_ms`, oldest first, from `start`."""
    return list(
        await redis.zrangebyscore(
            _state_key(queue, "failed"), "-inf", up_to_ms, start=start, num=count
        )
    )


async def clean_state(queue: Queue, state: str, cutoff_ms: int) -> int:
    """Remove the jobs of `state` from up to `cutoff_ms`; returns how many were removed.

    Time counts from finishing (completed, failed) or creation (the waiting states); the
    wait list is emptied regardless of time.
    """
    count = 0
    while True:
        # bullmq takes an age, not a time: recomputed per batch so the cutoff stays put.
        grace_ms = max(0, round(time.time() * 1000) - cutoff_ms)
        batch = await queue.clean(grace_ms, CLEAN_BATCH, _STATE_KEYS.get(state, state))
        count += len(batch)
        if len(batch) < CLEAN_BATCH:
            return count


# --- job hashes ----------------------------------------------------------------------------


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def read_job_range(
    queue: Queue, state: str, start: int, end: int
) -> list[tuple[str, dict[str, str]]]:
    """Ids and raw hashes of the jobs `start`..`end` of `state`, newest first.

    bullmq's getJobs script reads ids and hashes together and skips ids whose job is
    gone, so a range is never short of rows because of a concurrent removal.
    """
    raw = await queue.scripts.getJobs([state], start, end, False)
    return [(job_id, _pairs(fields)) for per_type in raw for job_id, fields in per_type]


async def read_job_fields(queue: Queue, job_id: str) -> dict[str, str]:
    """A job's raw hash (empty if the job does not exist)."""
    return dict(await queue.backend.getJobData(job_id) or {})


async def read_job_data(redis: Redis, queue: Queue, job_id: str) -> str | None:
    """A job's payload as stored (raw JSON), or None."""
    return await redis.hget(queue.toKey(job_id), "data")


async def read_job_hashes(
    redis: Redis, queue: Queue, job_ids: Iterable[str]
) -> list[dict[str, str]]:
    """The raw hashes of `job_ids`, in order (empty for a job removed meanwhile)."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hgetall(queue.toKey(job_id))
        return list(await pipe.execute())


# --- flows: a parent job and its children ---------------------------------------------------

# A flow (Node's FlowProducer, or bullmq's Python one) links jobs by their keys
# (`<prefix>:<queue>:<id>`): a child's hash names its parent (`parentKey`), and keys beside
# the parent's hash name its children, by bullmq's kinds (`Job.getDependencies`): those
# still to finish (the set `:dependencies`), the finished with their return values (the
# hash `:processed`), failed ones the parent ignores (`ignoreDependencyOnFailure`: the hash
# `:failed`), and failed ones that failed or held up the parent (the sorted set
# `:unsuccessful`). Children may live in other queues, even under another prefix.
CHILD_KINDS = ("unprocessed", "processed", "ignored", "failed")
_CHILD_KEYS = {
    "unprocessed": "dependencies",
    "processed": "processed",
    "ignored": "failed",
    "failed": "unsuccessful",
}


@dataclass(frozen=True)
class JobKey:
    """A job as a flow names it: its key, and its queue and id when the key is under
    `prefix` (None for a key of another prefix: none of our queues)."""

    key: str
    queue: str | None
    id: str | None

    @classmethod
    def parse(cls, prefix: str, key: str) -> JobKey:
        """The queue and id in `key`; queue names never hold a colon, job ids may."""
        head = f"{prefix}:"
        queue, sign, job_id = key[len(head) :].partition(":")
        if not key.startswith(head) or not sign or not queue or not job_id:
            return cls(key, None, None)
        return cls(key, queue, job_id)


@dataclass(frozen=True)
class FlowLinks:
    """A job's parent (None: it has none) and up to `limit` of its children, as
    (kind, child) ordered by kind and key; `children_total` counts all of them."""

    parent: JobKey | None
    children: list[tuple[str, JobKey]]
    children_total: int


async def read_flow_links(redis: Redis, queue: Queue, job_id: str, limit: int) -> FlowLinks:
    """Parent and children of a job, in two round trips (each kind read up to `limit`)."""
    key = queue.toKey(job_id)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(key, "parentKey")
        pipe.scard(f"{key}:dependencies")
        pipe.hlen(f"{key}:processed")
        pipe.hlen(f"{key}:failed")
        pipe.zcard(f"{key}:unsuccessful")
        parent_key, *sizes = await pipe.execute()
    kinds = [kind for kind, size in zip(CHILD_KINDS, sizes, strict=True) if size]
    children: list[tuple[str, JobKey]] = []
    if kinds:
        async with redis.pipeline(transaction=False) as pipe:
            for kind in kinds:
                child_key = f"{key}:{_CHILD_KEYS[kind]}"
                # Bounded whatever the size: distinct members, all of them when fewer.
                if kind == "unprocessed":
                    pipe.srandmember(child_key, limit)
                elif kind == "failed":
                    pipe.zrange(child_key, 0, limit - 1)
                else:
                    pipe.hrandfield(child_key, limit)
            found = await pipe.execute()
        for kind, keys in zip(kinds, found, strict=True):
            children += [(kind, JobKey.parse(queue.prefix, k)) for k in sorted(keys or [])]
    return FlowLinks(
        parent=JobKey.parse(queue.prefix, parent_key) if parent_key else None,
        children=children[:limit],
        children_total=sum(int(size) for size in sizes),
    )


@dataclass(frozen=True)
class JobGlimpse:
    """What a flow's page shows of a related job: name, raw payload and state ("unknown"
    once it is gone)."""

    name: str
    data: str | None
    state: str


async def read_glimpses(
    redis: Redis, queue_of: Callable[[str], Queue], jobs: Sequence[JobKey]
) -> list[JobGlimpse]:
    """Name, payload and state of each job of ours in `jobs` (in order); one HMGET per job
    in a pipeline and bullmq's state script per job."""
    async with redis.pipeline(transaction=False) as pipe:
        for job in jobs:
            pipe.hmget(job.key, "name", "data")
        fields = await pipe.execute()
    states = await asyncio.gather(
        *(
            queue_of(job.queue).getJobState(job.id)
            for job in jobs
            if job.queue is not None and job.id is not None
        )
    )
    found = iter(states)
    return [
        JobGlimpse(
            name=name or "",
            data=data,
            state=str(next(found)) if job.queue is not None and job.id is not None else "unknown",
        )
        for job, (name, data) in zip(jobs, fields, strict=True)
    ]


# --- our own field in a job's hash -----------------------------------------------------------

# How often a person retried the job (`ailawyer.jobs.retry`). Kept in the job's own hash, so
# it lives exactly as long as the job; bullmq reads only the fields it knows.
MANUAL_RETRIES_FIELD = "ailawyerManualRetries"
# Counts only while the job exists: a job removed meanwhile gets no stray hash.
_COUNT_MANUAL_RETRY = """
if redis.call("EXISTS", KEYS[1]) == 1 then
  return redis.call("HINCRBY", KEYS[1], ARGV[1], 1)
end
return 0
"""


async def count_manual_retry(redis: Redis, queue: Queue, job_id: str) -> int:
    """Note one more manual retry of the job; the new count (0: the job is gone)."""
    script = redis.register_script(_COUNT_MANUAL_RETRY)
    return int(await script(keys=[queue.toKey(job_id)], args=[MANUAL_RETRIES_FIELD]))


def manual_retries(fields: Mapping[str, str]) -> int:
    """How often a person retried the job, from its raw hash (`read_job_fields`)."""
    value = fields.get(MANUAL_RETRIES_FIELD)
    return int(value) if value and value.isdigit() else 0


# --- per-Kanzlei tally ---------------------------------------------------------------------

# One slice of a state: a list (LRANGE), a sorted set newest first (ZREVRANGE), or a sorted
# set by score up to ARGV[5] (ZRANGEBYSCORE: finished up to a moment). Returns the number of
# ids read and, per Kanzlei ("" for jobs without one), how many of them it has. An id whose
# hash is gone (removed meanwhile) is not counted.
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
    only those `clean_state` would remove up to then."""
    script = redis.register_script(_TALLY_SCRIPT)
    key = _state_key(queue, state)
    # A list has no times: cleaning takes all of it (see count_up_to).
    by_score = up_to_ms is not None and state not in LIST_STATES
    mode = "s" if by_score else ("l" if state in LIST_STATES else "z")
    result: Counter[int | None] = Counter()
    offset = 0
    while True:
        read, flat = await script(
            keys=[key], args=[queue.toKey(""), mode, offset, TALLY_CHUNK, up_to_ms or 0]
        )
        for kanzlei, count in zip(flat[::2], flat[1::2], strict=True):
            result[int(kanzlei) if kanzlei else None] += int(count)
        offset += int(read)
        if int(read) < TALLY_CHUNK:
            return result


# --- search --------------------------------------------------------------------------------

# For each id of a slice of one state: HMGET name and data; keep it if it is Kanzlei
# ARGV[5]'s (any job for ""), and then if it matches: every job ("all"), text (in name or
# the raw JSON, also in its \u-escaped form; ASCII-case-insensitive, the lowering skipped
# when the needle has no letters), or one top-level payload field exactly (decoded only
# where the value's text occurs). Returns the number of ids inspected and, per hit, its
# index and its id. The arguments after the Kanzlei come from `SearchScript.match_*`.
_SEARCH_SCRIPT = f"""
local ids
local first = tonumber(ARGV[3])
local last = first + tonumber(ARGV[4]) - 1
if ARGV[2] == "l" then
  ids = redis.call("LRANGE", KEYS[1], first, last)
else
  ids = redis.call("ZREVRANGE", KEYS[1], first, last)
end
local kanzlei, mode, fold = ARGV[5], ARGV[6], ARGV[7] == "1"
local needle, escaped, field = ARGV[8], ARGV[9], ARGV[8]
local function contains(value)
  if not value then
    return false
  end
  if fold then
    value = string.lower(value)
  end
  return string.find(value, needle, 1, true) ~= nil
    or (escaped ~= "" and string.find(value, escaped, 1, true) ~= nil)
end
-- ",dokumentId:12,akteId:3," : ids the search term names in the database (ARGV[10]).
local references = mode == "text" and ARGV[10] or ""
local function referenced(data)
  if references == "" or not data then
    return false
  end
  for _, field in ipairs({{"dokumentId", "akteId", "userId"}}) do
    local id = string.match(data, '"' .. field .. '":%s*(%d+)')
    if id and string.find(references, "," .. field .. ":" .. id .. ",", 1, true) then
      return true
    end
  end
  return false
end
local function in_scope(data)
  return kanzlei == "" or (data and string.match(data, '{KANZLEI_PATTERN}') == kanzlei)
end
local hits = {{}}
for index, id in ipairs(ids) do
  local fields = redis.call("HMGET", ARGV[1] .. id, "name", "data")
  local hit = false
  if not in_scope(fields[2]) then
    -- another Kanzlei's job (or one removed meanwhile): never a hit
  elseif mode == "all" then
    hit = fields[2] ~= false
  elseif mode == "text" then
    hit = contains(fields[1]) or contains(fields[2]) or referenced(fields[2])
  elseif fields[2] and string.find(fields[2], ARGV[10], 1, true) then
    -- Decoding is the expensive part: only where the value occurs at all.
    local ok, decoded = pcall(cjson.decode, fields[2])
    if ok and type(decoded) == "table" then
      local value = decoded[field]
      hit = value ~= nil and value ~= cjson.null and tostring(value) == ARGV[9]
    end
  end
  if hit then
    hits[#hits + 1] = index - 1
    hits[#hits + 1] = id
  end
end
return {{#ids, hits}}
"""


class SearchScript:
    """The search script, registered once on a Redis client."""

    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_SEARCH_SCRIPT)

    async def chunk(
        self,
        queue: Queue,
        state: str,
        offset: int,
        size: int,
        kanzlei_id: int | None,
        match: Sequence[str],
    ) -> tuple[int, list[tuple[int, str]]]:
        """Inspect up to `size` jobs of `state` from `offset` (newest first): how many were
        inspected, and (index in the slice, id) of each hit. `match` is one of the match_*
        argument lists."""
        inspected, hits = await self._script(
            keys=[_state_key(queue, state)],
            args=[
                queue.toKey(""),
                "l" if state in LIST_STATES else "z",
                offset,
                size,
                str(kanzlei_id or ""),
                *match,
            ],
        )
        return int(inspected), [
            (int(index), job_id) for index, job_id in zip(hits[::2], hits[1::2], strict=True)
        ]

    @staticmethod
    def match_all() -> list[str]:
        """Every job (of the Kanzlei, if one is given)."""
        return ["all", "0", "", ""]

    @staticmethod
    def match_text(
        fold: bool, needle: str, escaped: str, references: Iterable[tuple[str, int]] = ()
    ) -> list[str]:
        """Jobs whose name or raw payload contains `needle` (or its JSON-escaped form), or
        whose top-level `dokumentId`, `akteId` or `userId` is one of `references` (field,
        id); `fold`: lower-case the job's text first (the needle already is)."""
        named = "".join(f"{field}:{row_id}," for field, row_id in references)
        return ["text", "1" if fold else "0", needle, escaped, f",{named}" if named else ""]

    @staticmethod
    def match_field(field: str, value: str, value_in_json: str) -> list[str]:
        """Jobs whose top-level payload field `field` reads `value`; only payloads that
        contain `value_in_json` (its text as JSON writes it) are decoded."""
        return ["field", "0", field, value, value_in_json]


# --- job schedulers --------------------------------------------------------------------------

# A job scheduler (bullmq's job_scheduler.py; Node's JobScheduler) is a member of the sorted
# set `<queue>:repeat`, scored by its next run (epoch ms), with the hash `<queue>:repeat:<id>`:
# `name` (of its jobs), `every` (ms) or `pattern` (cron, evaluated in `tz`), `ic` (runs made so
# far), the template's `data` (JSON) and `opts` (JSON, bullmq's short option keys), and
# optionally `limit`, `startDate`, `endDate`, `offset`. Its next run is the delayed job
# `repeat:<id>:<next>`, added when the run before starts. bullmq keeps no record of the last
# run: it is looked for among the queue's newest jobs. A member without a hash is one of
# Node's older repeatable jobs, named `name:id:endDate:tz:pattern`.
SCHEDULER_FIELDS_INT = ("every", "ic", "limit", "startDate", "endDate")


@dataclass(frozen=True)
class SchedulerRecord:
    """One job scheduler as stored (raw JSON for its template's data and options)."""

    id: str
    next_ms: int | None
    name: str | None
    every_ms: int | None
    pattern: str | None
    tz: str | None
    iterations: int | None
    limit: int | None
    start_ms: int | None
    end_ms: int | None
    data: str | None
    opts: str | None

    @property
    def legacy(self) -> bool:
        """An older repeatable job of Node's (no hash): listed, but not ours to change."""
        return self.name is None

    @property
    def next_run_id(self) -> str | None:
        """The id of its next run's job (None: it has none)."""
        return None if self.next_ms is None else scheduler_run_id(self.id, self.next_ms)

    @classmethod
    def parse(cls, scheduler_id: str, score: Any, fields: Mapping[str, str]) -> SchedulerRecord:
        numbers = {name: _int(fields.get(name)) for name in SCHEDULER_FIELDS_INT}
        return cls(
            id=scheduler_id,
            next_ms=_int(score),
            name=fields.get("name") if fields else None,
            every_ms=numbers["every"],
            pattern=fields.get("pattern") or None,
            tz=fields.get("tz") or None,
            iterations=numbers["ic"],
            limit=numbers["limit"],
            start_ms=numbers["startDate"],
            end_ms=numbers["endDate"],
            data=fields.get("data"),
            opts=fields.get("opts"),
        )


def scheduler_run_id(scheduler_id: str, run_ms: int) -> str:
    """The job id bullmq gives a scheduler's run due at `run_ms`."""
    return f"repeat:{scheduler_id}:{run_ms}"


async def read_schedulers(
    redis: Redis, queue: Queue, limit: int
) -> tuple[int, list[SchedulerRecord]]:
    """How many job schedulers the queue has, and the first `limit` of them, soonest first."""
    key = queue.toKey("repeat")
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(key)
        pipe.zrange(key, 0, limit - 1, withscores=True)
        total, members = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for member, _score in members:
            pipe.hgetall(f"{key}:{member}")
        hashes = await pipe.execute() if members else []
    return int(total), [
        SchedulerRecord.parse(member, score, fields)
        for (member, score), fields in zip(members, hashes, strict=True)
    ]


async def read_scheduler(redis: Redis, queue: Queue, scheduler_id: str) -> SchedulerRecord | None:
    """One job scheduler, or None if the queue has none of that id.

    The id is looked up in the sorted set first: only a member's hash is read, so no id
    reaches another key (`repeat:<id>:<time>` is the hash of a run, not of a scheduler).
    """
    key = queue.toKey("repeat")
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zscore(key, scheduler_id)
        pipe.hgetall(f"{key}:{scheduler_id}")
        score, fields = await pipe.execute()
    if score is None:
        return None
    return SchedulerRecord.parse(scheduler_id, score, fields)


# How many of the newest running, completed and failed jobs are read for schedulers' last runs.
RECENT_RUNS_WINDOW = 1000


@dataclass(frozen=True)
class SchedulerRun:
    """A run of a scheduler: its job id, when it was due and the state it is in."""

    job_id: str
    due_ms: int
    state: str


async def read_last_runs(redis: Redis, queue: Queue) -> dict[str, SchedulerRun]:
    """Each scheduler's latest run among the newest RECENT_RUNS_WINDOW running, completed and
    failed jobs of the queue (one round trip; a scheduler whose last run is older, or was
    removed on completion, has none here)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.lrange(queue.toKey("active"), 0, RECENT_RUNS_WINDOW - 1)
        pipe.zrevrange(queue.toKey("completed"), 0, RECENT_RUNS_WINDOW - 1)
        pipe.zrevrange(queue.toKey("failed"), 0, RECENT_RUNS_WINDOW - 1)
        found = await pipe.execute()
    last: dict[str, SchedulerRun] = {}
    for state, ids in zip(("active", "completed", "failed"), found, strict=True):
        for job_id in ids:
            head, _, due = job_id.rpartition(":")
            if not head.startswith("repeat:") or not due.isdigit():
                continue
            run = SchedulerRun(job_id, int(due), state)
            scheduler_id = head.removeprefix("repeat:")
            if scheduler_id not in last or last[scheduler_id].due_ms < run.due_ms:
                last[scheduler_id] = run
    return last


async def change_scheduler(
    queue: Queue, record: SchedulerRecord, repeat: Mapping[str, Any]
) -> None:
    """Give a scheduler another interval or pattern (`{"every": ms}` or `{"pattern": cron,
    "tz": zone}`), keeping its name, template and limits. bullmq replaces its next run; after
    an interval change the next run is due at once, after a pattern change at its next time."""
    kept = {"limit": record.limit, "endDate": record.end_ms}
    options = optsFromJSON(json.loads(record.opts)) if record.opts else {}
    await queue.upsertJobScheduler(
        record.id,
        {**{k: v for k, v in kept.items() if v is not None}, **repeat},
        record.name,
        json.loads(record.data) if record.data else {},
        options,
    )


def pattern_next_run_ms(pattern: str, tz: str, now_ms: int) -> int:
    """When a cron pattern (5 fields, or 6 with seconds first) next fires after `now_ms` in
    zone `tz`, read as bullmq reads it; ValueError if bullmq could not read it."""
    try:
        next_ms = default_repeat_strategy(now_ms, {"pattern": pattern, "tz": tz})
    except (ValueError, KeyError) as error:  # croniter's errors; ZoneInfoNotFoundError
        raise ValueError(f"unreadable pattern {pattern!r} in {tz!r}: {error}") from None
    if next_ms is None:
        raise ValueError(f"empty pattern {pattern!r}")
    return next_ms


async def remove_scheduler(queue: Queue, scheduler_id: str) -> bool:
    """Remove a scheduler and its next run; False if it was gone already."""
    return await queue.removeJobScheduler(scheduler_id) == 0


# --- a waiting job's data --------------------------------------------------------------------

# Changes the data only while the job waits (in `wait` or `paused`, `prioritized` or
# `delayed`), in one step: bullmq's updateData writes whatever the state, so a job that a
# worker took between a check and the write would run with data nobody saw. Returns 1 when
# written. KEYS: the job's hash, wait, paused, prioritized, delayed; ARGV: id, data.
_UPDATE_WAITING_DATA = """
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
if redis.call("ZSCORE", KEYS[4], ARGV[1]) or redis.call("ZSCORE", KEYS[5], ARGV[1])
    or redis.call("LPOS", KEYS[2], ARGV[1]) or redis.call("LPOS", KEYS[3], ARGV[1]) then
  redis.call("HSET", KEYS[1], "data", ARGV[2])
  return 1
end
return 0
"""
# The states whose jobs' data may change: not yet started, and not a flow's parent.
DATA_EDITABLE_STATES = ("waiting", "prioritized", "delayed")


async def update_waiting_data(
    redis: Redis, queue: Queue, job_id: str, data: Mapping[str, Any]
) -> bool:
    """Replace a waiting or delayed job's data (JSON as bullmq writes it); False if the job
    is gone or no longer waits."""
    script = redis.register_script(_UPDATE_WAITING_DATA)
    keys = [
        queue.toKey(job_id),
        *(queue.toKey(k) for k in ("wait", "paused", "prioritized", "delayed")),
    ]
    text = json.dumps(dict(data), separators=(",", ":"), allow_nan=False)
    return int(await script(keys=keys, args=[job_id, text])) == 1


# --- the events stream (what Node's queue-events listeners and Bull Board read) -----------

# bullmq's scripts XADD every change of every client (Python, Node, Bull Board) to
# `<prefix>:<queue>:events`, trimmed to about 10,000 entries: {"event": name, "jobId": id, …}.
_EVENTS = "events"
# Event name -> the state the job is in afterwards; None: unknown or gone ("added" may be
# waiting, prioritized or delayed; "removed" names a job that no longer exists).
EVENT_STATES: Mapping[str, str | None] = {
    "added": None,
    "waiting": "waiting",
    "delayed": "delayed",
    "waiting-children": "waiting-children",
    "active": "active",
    "progress": "active",
    "completed": "completed",
    "failed": "failed",
    "stalled": None,
    "removed": None,
}
# Events about a whole queue (no job id); others ("drained", "duplicated", "deduplicated",
# "debounced", "retries-exhausted") change nothing an explorer shows, or are followed by one
# that does.
QUEUE_EVENTS = frozenset({"cleaned", "paused", "resumed"})
REMOVED = "removed"


@dataclass(frozen=True)
class QueueEvent:
    """One entry of a queue's events stream, reduced to what the explorer needs."""

    name: str
    job_id: str | None


def events_key(queue: Queue) -> str:
    """The queue's events stream."""
    return queue.toKey(_EVENTS)


async def events_ends(redis: Redis, keys: Sequence[str]) -> dict[str, str]:
    """The id of each stream's newest entry ("0-0" for an empty or missing stream): reading on
    from there sees exactly what is added afterwards (like XREAD's `$`, but per stream, so a
    read that returns one stream's entries loses nothing of the others)."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.xrevrange(key, count=1)
        answers = await pipe.execute()
    pairs = zip(keys, answers, strict=True)
    return {key: (entries[0][0] if entries else "0-0") for key, entries in pairs}


def parse_event(fields: Mapping[str, str]) -> QueueEvent | None:
    """The explorer's view of one stream entry; None for one that changes nothing shown."""
    name = fields.get("event", "")
    if name in QUEUE_EVENTS:
        return QueueEvent(name, None)
    job_id = fields.get("jobId")
    if name not in EVENT_STATES or not job_id:
        return None
    return QueueEvent(name, job_id)
