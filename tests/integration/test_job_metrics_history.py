"""Finished jobs per minute are kept for a week, and the explorer shows the last hour, 24
hours or 7 days of them (all of a queue's, or one Kanzlei's)."""

from __future__ import annotations

import re
import time

import httpx
from redis.asyncio import Redis
from tests.support.http import logged_in
from tests.support.personas import People

from ailawyer.jobs.metrics import (
    BUCKETS,
    HISTORY_MINUTES,
    PERIODS,
    MetricsBuffer,
    count_recent,
    counter_key,
    read_metrics,
)
from ailawyer.services import Services

HOUR = 3600
DAY = 24 * HOUR
# Finished jobs (completed, failed) at so many seconds ago.
HISTORY = {30: (1, 0), 3 * HOUR: (2, 1), 3 * DAY: (4, 0), 8 * DAY: (8, 8)}


async def write_history(
    redis: Redis, prefix: str, now: float, queue: str = "test", kanzlei_id: int | None = None
) -> None:
    """HISTORY's jobs as the worker counts them (jobs.activity feeds a MetricsBuffer)."""
    buffer = MetricsBuffer()
    for ago, (completed, failed) in HISTORY.items():
        for _ in range(completed):
            buffer.count(queue, "completed", now - ago, kanzlei_id)
        for _ in range(failed):
            buffer.count(queue, "failed", now - ago, kanzlei_id)
    async with redis.pipeline(transaction=False) as pipe:
        buffer.write(pipe, prefix)
        await pipe.execute()


async def test_each_period_sums_its_minutes_and_a_week_is_kept(isolated_services: Services) -> None:
    services = isolated_services
    prefix = services.settings.redis_key_prefix
    now = time.time()
    await write_history(services.redis, prefix, now)

    shown = {
        name: (await read_metrics(services.redis, prefix, ["test"], now, period=period))["test"]
        for name, period in PERIODS.items()
    }

    totals = {name: (m.completed_total, m.failed_total) for name, m in shown.items()}
    # Eight days ago is beyond the week: kept until its TTL, never shown.
    assert totals == {"1h": (1, 0), "24h": (3, 1), "7d": (7, 1)}
    assert [(len(m.completed), m.bucket_minutes) for m in shown.values()] == [
        (60, 1),
        (96, 15),
        (168, 60),
    ]
    week = shown["7d"]
    # The bar of three days ago holds those four, at its place counted from the end.
    hours_ago = int(now // HOUR) - int((now - 3 * DAY) // HOUR)
    assert week.completed[-1 - hours_ago] == 4
    assert week.peak == 4
    assert await count_recent(services.redis, prefix, ["test"], "completed", now, 5) == {"test": 1}
    recent = await count_recent(services.redis, prefix, ["test"], "completed", now, HISTORY_MINUTES)
    assert recent == {"test": 7}
    # Counters outlive their newest minute by the whole week, each bucket size alike.
    minute = int(now // 60)
    for bucket in BUCKETS:
        start = minute - minute % bucket
        ttl = await services.redis.ttl(counter_key(prefix, "test", "completed", bucket, start))
        assert ttl >= HISTORY_MINUTES * 60


def metric(html: str, name: str) -> int:
    found = re.search(rf'data-metric="{name}">([\d.]+)<', html)
    assert found, name
    return int(found.group(1).replace(".", ""))


async def test_the_explorer_shows_the_chosen_period(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    await write_history(services.redis, services.settings.redis_key_prefix, time.time())

    hour = await operator_client.get("/admin/jobs/queues/test")
    week = await operator_client.get("/admin/jobs/queues/test?status=failed&zeitraum=7d")
    panels = await operator_client.get("/admin/jobs/panels?zeitraum=24h")
    nonsense = await operator_client.get("/admin/jobs/queues/test?zeitraum=jahr")

    assert "Kennzahlen der letzten Stunde" in hour.text
    assert (metric(hour.text, "completed"), metric(hour.text, "failed")) == (1, 0)
    assert "Kennzahlen der letzten 7 Tage" in week.text
    assert (metric(week.text, "completed"), metric(week.text, "failed")) == (7, 1)
    assert 'data-period="7d" aria-current="true"' in week.text
    # The state tabs keep the period, the period links keep the state.
    assert "/admin/jobs/queues/test?status=waiting&amp;zeitraum=7d" in week.text
    assert 'href="/admin/jobs/queues/test?status=failed" data-period="1h"' in week.text
    # The overview's fragment, refreshed with its period.
    assert 'data-jobs-refresh="/admin/jobs/panels?zeitraum=24h"' in panels.text
    assert "Abgeschlossen (24 Std.)" in panels.text
    assert "pro Viertelstunde" in panels.text
    assert nonsense.status_code == 200 and "Kennzahlen der letzten Stunde" in nonsense.text


async def test_a_kanzleis_admin_sees_the_week_of_its_own_jobs(
    people: People, services: Services, live_server: str
) -> None:
    prefix = services.settings.redis_key_prefix
    await write_history(services.redis, prefix, time.time(), "dokumente", people.kanzlei_a.id)

    async with logged_in(live_server, people.admin_a) as client:
        own = await client.get("/admin/jobs/queues/dokumente?zeitraum=7d")
    async with logged_in(live_server, people.admin_b) as client:
        other = await client.get("/admin/jobs/queues/dokumente?zeitraum=7d")
    async with logged_in(live_server, people.operator) as client:
        whole = await client.get("/admin/jobs/queues/dokumente?zeitraum=7d")

    assert (metric(own.text, "completed"), metric(own.text, "failed")) == (7, 1)
    assert (metric(other.text, "completed"), metric(other.text, "failed")) == (0, 0)
    assert (metric(whole.text, "completed"), metric(whole.text, "failed")) == (7, 1)
