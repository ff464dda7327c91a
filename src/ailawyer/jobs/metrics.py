"""Job metrics in Redis: finished jobs per minute and recent wait/run times, per queue.

Written by the processes that see jobs start and finish (`JobActivity`, fed by the
worker's listeners), read by the job explorer. Keys (beside bullmq's, under our prefix):

- `<prefix>:jobmetrics:<queue>:<outcome>:<bucket>m:<n>`: how many jobs of the queue ended
  with `outcome` ("completed", or "failed" for good), per minute (`1m`, a hash per hour)
  and rolled up per quarter hour and per hour (`15m`, `60m`, a hash per day): epoch minute
  a bucket starts -> count, only buckets with any (`BUCKETS`, `counter_key`). Each expires
  a week (HISTORY_MINUTES) after its last write, so nothing needs cleaning up; the explorer
  reads the last hour, day or week (`PERIODS`) as 60, 96 or 168 numbers, and every hash
  stays small enough for Redis' compact encoding.
- `<prefix>:jobmetrics:<queue>:<kind>`: the newest SAMPLE_LIMIT samples of "wait" (from
  due to the start of the first attempt) and "run" (start to end of one attempt), each
  `"<epoch seconds>:<milliseconds>"`, capped by LTRIM; p50/p95 are computed from them.

- `<prefix>:jobmetrics:<queue>:totals`: running totals for Prometheus (`/metrics`), one
  hash per queue without a TTL: `completed` and `failed` jobs, and per kind a histogram of
  all samples: `<kind>:count`, `<kind>:sum_ms` and `<kind>:le:<seconds>` (samples of at
  most that many seconds and more than the next smaller bound; DURATION_BUCKETS_SECONDS).
  Every process that finishes jobs adds to the same hash, so any app process reports the
  installation's figures. Only the queue's series, not the Kanzleien's.

A job of a Kanzlei is counted twice: in its queue's series (the operator's view) and in the
series `<queue>:kanzlei:<id>` (its Kanzlei's ADMIN's view; `series`). Queue names never hold
a colon (`JobQueues.discover`), so no queue's series can be taken for a Kanzlei's.

Best effort: a lost write (Redis away, a killed worker's last buffer) costs a few
samples, never a job.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

# How far back the per-minute counts reach (bullmq's own metrics keep as many points).
HISTORY_MINUTES = 7 * 24 * 60
MINUTES_PER_DAY = 24 * 60
OUTCOMES = ("completed", "failed")
SAMPLE_KINDS = ("wait", "run")
# Percentiles over the newest samples; a quiet queue keeps older ones (their age is shown).
SAMPLE_LIMIT = 1000
# Counters outlive their newest bucket by the week they are shown for, and a few minutes
# (clock skew between hosts).
COUNTER_TTL_SECONDS = (HISTORY_MINUTES + 5) * 60
# The buckets finished jobs are counted in (minutes), each with the minutes one hash of it
# holds: 60 minutes, 96 quarter hours or 24 hours (Redis keeps a hash of up to 128 fields
# compact). Counting each job three times makes a week 168 numbers to read, not 10,080.
BUCKETS = {1: 60, 15: MINUTES_PER_DAY, 60: MINUTES_PER_DAY}
# Samples of a queue that finished nothing for a week are gone with its old jobs.
SAMPLES_TTL_SECONDS = 7 * 24 * 3600


# Upper bounds of the wait and run time histograms (seconds); longer ones count only in
# the total (Prometheus' "+Inf").
DURATION_BUCKETS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def _base(prefix: str, queue: str) -> str:
    return f"{prefix}:jobmetrics:{queue}"


def series(queue: str, kanzlei_id: int | None) -> str:
    """The metrics of a whole queue (`None`), or of one Kanzlei's jobs in it."""
    return queue if kanzlei_id is None else f"{queue}:kanzlei:{kanzlei_id}"


def _series_of_job(queue: str, kanzlei_id: int | None) -> tuple[str, ...]:
    return (queue,) if kanzlei_id is None else (queue, series(queue, kanzlei_id))


def counter_key(prefix: str, queue: str, outcome: str, bucket: int, start: int) -> str:
    """The hash holding the count of `outcome`s of `queue` in the `bucket`-minute bucket
    that starts at epoch minute `start` (its field is `start`)."""
    return f"{_base(prefix, queue)}:{outcome}:{bucket}m:{start // BUCKETS[bucket]}"


def samples_key(prefix: str, queue: str, kind: str) -> str:
    """The capped list of recent `kind` ("wait" or "run") samples of `queue`."""
    return f"{_base(prefix, queue)}:{kind}"


def totals_key(prefix: str, queue: str) -> str:
    """The running totals of `queue` (outcomes and duration histograms)."""
    return f"{_base(prefix, queue)}:totals"


# Per kind: (upper bound in ms, its field of the totals hash), ascending; built once, as
# every finished job looks its bucket up (the worker's hot path, bench/RESULTS.md issue 15).
_BUCKET_FIELDS = {
    kind: tuple((bound * 1000, f"{kind}:le:{bound:g}") for bound in DURATION_BUCKETS_SECONDS)
    for kind in SAMPLE_KINDS
}
_SUM_FIELDS = {kind: (f"{kind}:count", f"{kind}:sum_ms") for kind in SAMPLE_KINDS}


def _bucket_field(kind: str, milliseconds: int) -> str | None:
    for bound_ms, name in _BUCKET_FIELDS[kind]:
        if milliseconds <= bound_ms:
            return name
    return None


@dataclass
class MetricsBuffer:
    """Counts and samples collected in memory between two writes (bounded per queue)."""

    counts: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    # The newest SAMPLE_LIMIT per (series, kind): a bounded deque drops the oldest itself.
    samples: dict[tuple[str, str], deque[str]] = field(default_factory=dict)
    # (queue, field of its totals hash) -> amount to add.
    totals: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, queue: str, outcome: str, at: float, kanzlei_id: int | None = None) -> None:
        """One job of `queue` (and of Kanzlei `kanzlei_id`) ended with `outcome` at `at`."""
        for name in _series_of_job(queue, kanzlei_id):
            self.counts[(name, outcome, int(at // 60))] += 1
        self.totals[(queue, outcome)] += 1

    def sample(
        self, queue: str, kind: str, at: float, milliseconds: float, kanzlei_id: int | None = None
    ) -> None:
        """One wait or run time; beyond SAMPLE_LIMIT per write only the newest are kept."""
        rounded = max(0, round(milliseconds))
        entry = f"{int(at)}:{rounded}"
        for name in _series_of_job(queue, kanzlei_id):
            entries = self.samples.get((name, kind))
            if entries is None:
                entries = self.samples[(name, kind)] = deque(maxlen=SAMPLE_LIMIT)
            entries.append(entry)
        count_field, sum_field = _SUM_FIELDS[kind]
        self.totals[(queue, count_field)] += 1
        self.totals[(queue, sum_field)] += rounded
        bucket = _bucket_field(kind, rounded)
        if bucket is not None:
            self.totals[(queue, bucket)] += 1

    def __bool__(self) -> bool:
        return bool(self.counts or self.samples or self.totals)

    def write(self, pipe: Pipeline, prefix: str) -> None:
        """Queue the commands that add this buffer to Redis on `pipe`."""
        counters: set[str] = set()
        for (queue, outcome, minute), amount in self.counts.items():
            for bucket in BUCKETS:
                start = minute - minute % bucket
                key = counter_key(prefix, queue, outcome, bucket, start)
                pipe.hincrby(key, str(start), amount)
                counters.add(key)
        for key in counters:
            pipe.expire(key, COUNTER_TTL_SECONDS)
        for (queue, kind), entries in self.samples.items():
            key = samples_key(prefix, queue, kind)
            pipe.lpush(key, *entries)
            pipe.ltrim(key, 0, SAMPLE_LIMIT - 1)
            pipe.expire(key, SAMPLES_TTL_SECONDS)
        for (queue, name), amount in self.totals.items():
            pipe.hincrby(totals_key(prefix, queue), name, amount)


@dataclass(frozen=True)
class Percentiles:
    """p50/p95 of a set of durations (ms), how many samples, and when the oldest was taken."""

    p50: float
    p95: float
    count: int
    oldest: float  # epoch seconds


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(entries: Iterable[str]) -> Percentiles | None:
    """Percentiles of stored samples; malformed entries are skipped, none gives None."""
    values: list[float] = []
    oldest = math.inf
    for entry in entries:
        at, _, milliseconds = entry.partition(":")
        try:
            values.append(float(milliseconds))
            oldest = min(oldest, float(at))
        except ValueError:
            continue
    if not values:
        return None
    values.sort()
    return Percentiles(
        p50=percentile(values, 0.50),
        p95=percentile(values, 0.95),
        count=len(values),
        oldest=oldest,
    )


@dataclass(frozen=True)
class Period:
    """A span the explorer shows, in bars of `bucket` minutes (one of BUCKETS); the last bar
    holds the current minute, bars start on whole multiples of `bucket` (14:00, 14:15, …)."""

    name: str
    minutes: int
    bucket: int

    @property
    def buckets(self) -> int:
        return self.minutes // self.bucket


PERIODS = {
    period.name: period
    for period in (
        Period("1h", 60, 1),
        Period("24h", MINUTES_PER_DAY, 15),
        Period("7d", HISTORY_MINUTES, 60),
    )
}
LAST_HOUR = PERIODS["1h"]


@dataclass(frozen=True)
class QueueMetrics:
    """What the explorer shows for one queue: finished jobs per bar of a period, and
    durations."""

    queue: str
    first_minute: int  # epoch minute the first bar starts with; the last bar holds now
    completed: list[int]
    failed: list[int]
    wait: Percentiles | None
    run: Percentiles | None
    bucket_minutes: int = 1

    @property
    def completed_total(self) -> int:
        return sum(self.completed)

    @property
    def failed_total(self) -> int:
        return sum(self.failed)

    @property
    def peak(self) -> int:
        """Finished jobs in the busiest bar."""
        return max((c + f for c, f in zip(self.completed, self.failed, strict=True)), default=0)


def _by_hash(bucket: int, first: int, last: int) -> list[list[int]]:
    """The starts of the `bucket`-minute buckets from `first` to `last` (both bucket starts),
    grouped by the hash that holds them."""
    groups: dict[int, list[int]] = {}
    for start in range(first, last + 1, bucket):
        groups.setdefault(start // BUCKETS[bucket], []).append(start)
    return list(groups.values())


def _read_counters(
    pipe: Pipeline, prefix: str, name: str, outcome: str, bucket: int, groups: list[list[int]]
) -> None:
    for starts in groups:
        key = counter_key(prefix, name, outcome, bucket, starts[0])
        pipe.hmget(key, [str(start) for start in starts])


async def read_metrics(
    redis: Redis,
    prefix: str,
    queues: Sequence[str],
    now: float,
    kanzlei_id: int | None = None,
    period: Period = LAST_HOUR,
) -> dict[str, QueueMetrics]:
    """Finished jobs per bar of `period` (oldest first, the last bar holding the current
    minute) and the duration percentiles of every queue in `queues` (only Kanzlei
    `kanzlei_id`'s jobs, if given), in one round trip: one HMGET per hash of counters."""
    if not queues:
        return {}
    current = int(now // 60)
    last_bar = current - current % period.bucket
    first = last_bar - (period.buckets - 1) * period.bucket
    groups = _by_hash(period.bucket, first, last_bar)
    names = [series(queue, kanzlei_id) for queue in queues]
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            for outcome in OUTCOMES:
                _read_counters(pipe, prefix, name, outcome, period.bucket, groups)
            for kind in SAMPLE_KINDS:
                pipe.lrange(samples_key(prefix, name, kind), 0, SAMPLE_LIMIT - 1)
        answers = iter(await pipe.execute())
    result = {}
    for queue in queues:
        bars: dict[str, list[int]] = {}
        for outcome in OUTCOMES:
            bars[outcome] = [int(value or 0) for _ in groups for value in next(answers)]
        wait, run = summarize(next(answers)), summarize(next(answers))
        result[queue] = QueueMetrics(
            queue=queue,
            first_minute=first,
            completed=bars["completed"],
            failed=bars["failed"],
            wait=wait,
            run=run,
            bucket_minutes=period.bucket,
        )
    return result


async def count_recent(
    redis: Redis, prefix: str, queues: Sequence[str], outcome: str, now: float, minutes: int
) -> dict[str, int]:
    """How many jobs of each queue ended with `outcome` in the last `minutes` minutes (the
    current one included), in one round trip."""
    if not queues:
        return {}
    current = int(now // 60)
    groups = _by_hash(1, current - minutes + 1, current)
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            _read_counters(pipe, prefix, queue, outcome, 1, groups)
        answers = iter(await pipe.execute())
    return {
        queue: sum(int(value or 0) for _ in groups for value in next(answers)) for queue in queues
    }


@dataclass(frozen=True)
class DurationHistogram:
    """All samples of one kind so far: (upper bound in seconds, samples up to it) ascending
    and cumulative, the number of samples and their sum."""

    buckets: list[tuple[float, int]]
    count: int
    sum_seconds: float


@dataclass(frozen=True)
class QueueTotals:
    """A queue's running totals (see `totals_key`)."""

    completed: int
    failed: int
    durations: dict[str, DurationHistogram]  # by kind: "wait", "run"


async def read_totals(redis: Redis, prefix: str, queues: Sequence[str]) -> dict[str, QueueTotals]:
    """The running totals of every queue in `queues`, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.hgetall(totals_key(prefix, queue))
        hashes = await pipe.execute()
    return {queue: _totals(fields) for queue, fields in zip(queues, hashes, strict=True)}


def _totals(fields: dict[str, str]) -> QueueTotals:
    def number(name: str) -> int:
        return int(fields.get(name) or 0)

    durations = {}
    for kind in SAMPLE_KINDS:
        cumulative, buckets = 0, []
        for bound in DURATION_BUCKETS_SECONDS:
            cumulative += number(f"{kind}:le:{bound:g}")
            buckets.append((float(bound), cumulative))
        durations[kind] = DurationHistogram(
            buckets=buckets,
            count=number(f"{kind}:count"),
            sum_seconds=number(f"{kind}:sum_ms") / 1000,
        )
    return QueueTotals(completed=number("completed"), failed=number("failed"), durations=durations)
