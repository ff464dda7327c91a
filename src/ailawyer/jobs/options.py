"""Default job options and bullmq worker options, computed from the settings in one place.

- Attempts: the first run plus automatic retries (default 4 = 1 + 3).
- Backoff: our own strategy (`BACKOFF_TYPE`) waits the configured steps, by default
  10 s, 60 s and 300 s; bullmq's built-in ones only know fixed and exponential delays.
- Retention: not in the job options but in the worker options, so the runtime settings
  apply to every job the moment an admin changes them (bullmq copies the worker's
  removeOnComplete/removeOnFail into jobs that have none). bullmq removes old jobs only
  when a later job of the same queue finishes; `ailawyer.worker.maintenance` enforces
  the ages on a schedule.
- Stalled jobs: a job's lock expires a lock duration after its worker stopped renewing it;
  another worker's stalled check then moves it back to waiting: at most about
  lock + stalled interval (default 15 s + 5 s), instead of bullmq's 60–75 s. The lock stays
  that long so that a live worker's job never runs twice while its event loop is blocked;
  a worker known to be dead (same pid space, pid gone) has its locks freed at once instead
  (`ailawyer.worker.dead_workers`).
- No rate limiter option anywhere: bullmq's does not work (docs/ARCHITECTURE.md, bullmq
  pitfalls).
- bullmq's own metrics are on: every finished job adds to `<queue>:metrics:completed` /
  `:failed`, per minute for HISTORY_MINUTES (a week), which Bull Board's chart and Node's
  `Queue.getMetrics()` read. The explorer keeps its own series (`jobs.metrics`).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from ailawyer.config import Settings
from ailawyer.jobs.metrics import HISTORY_MINUTES

BACKOFF_TYPE = "ailawyer-steps"


def bull_prefix(settings: Settings) -> str:
    """The key prefix of every queue: `<prefix>:bull:<queue>:…`, apart from our other keys."""
    return f"{settings.redis_key_prefix}:bull"


def backoff_delays_ms(settings: Settings) -> list[int]:
    """The delay before each automatic retry, in milliseconds."""
    return [round(seconds * 1000) for seconds in settings.job_backoff_seconds]


def backoff_delay_ms(settings: Settings, attempts_made: int) -> int:
    """The delay before the retry that follows failed attempt number `attempts_made` (1-based).

    More attempts than configured steps wait as long as the last step.
    """
    delays = backoff_delays_ms(settings)
    return delays[min(max(attempts_made, 1), len(delays)) - 1]


def default_job_options(settings: Settings) -> dict[str, Any]:
    """The options every job gets unless its enqueue call says otherwise."""
    return {"attempts": settings.job_attempts, "backoff": {"type": BACKOFF_TYPE}}


def retention_options(completed_seconds: int, failed_seconds: int) -> dict[str, Any]:
    """bullmq's lazy removal ages (KeepJobs) for the worker options."""
    return {"removeOnComplete": {"age": completed_seconds}, "removeOnFail": {"age": failed_seconds}}


def worker_options(
    settings: Settings,
    *,
    connection: Redis,
    concurrency: int,
    worker_name: str,
    retention: dict[str, Any],
) -> dict[str, Any]:
    """Options of one bullmq Worker; `connection` must come from `create_redis` (socket timeout)."""

    def backoff_strategy(attempts_made: int, _type: str, _error: Any, _job: Any) -> int:
        return backoff_delay_ms(settings, attempts_made)

    return {
        "connection": connection,
        "prefix": bull_prefix(settings),
        "concurrency": concurrency,
        "autorun": False,
        # Names its connections in CLIENT LIST `<prefix>:<queue>:w:<name>` (Python's
        # Queue.get_workers); the pool names the blocking one for Node (bullmq_adapter).
        "name": worker_name,
        "lockDuration": round(settings.job_lock_seconds * 1000),
        "stalledInterval": round(settings.job_stalled_interval_seconds * 1000),
        "maxStalledCount": settings.job_max_stalled_count,
        # bullmq waits 15 s after a Redis connection error before it tries again.
        "runRetryDelay": round(settings.worker_reconnect_seconds * 1000),
        "settings": {"backoffStrategy": backoff_strategy},
        "metrics": {"maxDataPoints": HISTORY_MINUTES},
        **retention,
    }
