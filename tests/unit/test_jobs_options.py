"""Default job options with the real (not scaled-down) settings, and the bullmq pitfalls
that can be checked without Redis (ARCHITECTURE.md, "bullmq pitfalls")."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from ailawyer.config import Environment, Settings
from ailawyer.jobs.options import (
    BACKOFF_TYPE,
    default_job_options,
    retention_options,
    worker_options,
)
from ailawyer.redis_client import create_redis, redis_options

SOURCE = Path(__file__).parents[2] / "src" / "ailawyer"


def real_settings() -> Settings:
    return Settings(_env_file=None, environment=Environment.TEST)


def options(settings: Settings) -> dict[str, object]:
    return worker_options(
        settings,
        connection=create_redis("redis://127.0.0.1:1/0"),
        concurrency=1,
        worker_name="test",
        retention=retention_options(86400, 604800),
    )


def test_the_real_backoff_delays_are_10_60_and_300_seconds() -> None:
    strategy = options(real_settings())["settings"]["backoffStrategy"]  # type: ignore[index]

    delays = [strategy(attempt, BACKOFF_TYPE, None, None) for attempt in (1, 2, 3)]

    assert delays == [10_000, 60_000, 300_000]
    assert all(isinstance(delay, int) for delay in delays), "bullmq only delays int results"


def test_a_job_gets_four_attempts_with_our_backoff() -> None:
    assert default_job_options(real_settings()) == {
        "attempts": 4,
        "backoff": {"type": BACKOFF_TYPE},
    }


def test_completed_jobs_are_kept_24_hours_and_failed_ones_7_days_by_default() -> None:
    settings = real_settings()

    assert settings.job_keep_completed_seconds == 24 * 3600
    assert settings.job_keep_failed_seconds == 7 * 24 * 3600


def test_a_killed_workers_jobs_are_recovered_within_30_seconds_by_default() -> None:
    settings = real_settings()
    opts = options(settings)

    # bullmq's defaults (30 s lock, 30 s interval) take 60–75 s.
    assert opts["lockDuration"] == 15_000
    assert opts["stalledInterval"] == 5_000
    # A killed worker's job runs again at most a lock plus one stalled check later.
    assert settings.job_lock_seconds + settings.job_stalled_interval_seconds <= 30


def test_every_redis_client_waits_without_a_socket_timeout() -> None:
    # redis-py 8's 5 s default makes an idle bullmq worker miss delayed jobs.
    assert redis_options()["socket_timeout"] is None
    connection = options(real_settings())["connection"]
    assert isinstance(connection, Redis)
    assert connection.connection_pool.connection_kwargs["socket_timeout"] is None


def test_no_worker_or_job_uses_bullmqs_rate_limiter() -> None:
    # It does not work in bullmq 3.4.4; rate limits belong in our own code.
    assert "limiter" not in options(real_settings())
    assert "limiter" not in default_job_options(real_settings())
    uses = [p for p in SOURCE.rglob("*.py") if "rateLimit(" in p.read_text()]
    assert uses == []


def test_nothing_builds_on_queue_events() -> None:
    # QueueEvents stops for good after one connection error.
    uses = [p for p in SOURCE.rglob("*.py") if "QueueEvents" in p.read_text()]
    assert uses == []
