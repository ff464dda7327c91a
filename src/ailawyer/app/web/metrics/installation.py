"""The installation's figures, read from Redis at scrape time: the same from every app process.

- jobs per queue and state, and each queue's pause flag (bullmq's counts, O(1) per queue);
- finished jobs and the wait and run time histograms per queue: running totals that every
  process finishing jobs adds to (`jobs/metrics.py`, `totals_key`), so they count the jobs
  of every worker, including those that have exited since;
- live worker processes (heartbeats) and open alert incidents (`ailawyer.alerts`).

prometheus_client's collectors are synchronous; the figures are read first (async) and a
collector made of them is exposed (`InstallationCollector`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from ailawyer.alerts.incidents import Incident, IncidentStore
from ailawyer.jobs.bullmq_adapter import QueueCounts, read_counts
from ailawyer.jobs.metrics import SAMPLE_KINDS, QueueTotals, read_totals
from ailawyer.services import Services


@dataclass(frozen=True)
class InstallationFigures:
    """One reading of the installation's figures."""

    counts: dict[str, QueueCounts]
    totals: dict[str, QueueTotals]
    workers: int
    incidents: list[Incident]


async def read_installation(services: Services) -> InstallationFigures:
    """Read everything the collector exposes, concurrently (a few Redis round trips)."""
    queues = await services.jobs.known()
    prefix = services.settings.redis_key_prefix
    counts, totals, workers, incidents = await asyncio.gather(
        asyncio.gather(*(read_counts(services.jobs.queue(name)) for name in queues)),
        read_totals(services.redis, prefix, queues),
        services.workers.alive(),
        IncidentStore(services.redis, prefix).open_incidents(),
    )
    return InstallationFigures(
        counts=dict(zip(queues, counts, strict=True)),
        totals=totals,
        workers=len(workers),
        incidents=incidents,
    )


class InstallationCollector:
    """A prometheus_client collector of one `InstallationFigures` reading."""

    def __init__(self, figures: InstallationFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        figures = self.figures
        jobs = GaugeMetricFamily(
            "ailawyer_jobs", "Jobs per queue and state (installation).", labels=["queue", "state"]
        )
        paused = GaugeMetricFamily(
            "ailawyer_queue_paused", "1 if the queue is paused (installation).", labels=["queue"]
        )
        for queue, counts in figures.counts.items():
            for state, count in counts.counts.items():
                jobs.add_metric([queue, state], count)
            paused.add_metric([queue], int(counts.paused))
        yield jobs
        yield paused

        outcomes = {
            outcome: CounterMetricFamily(
                f"ailawyer_jobs_{outcome}",
                f"Jobs {outcome} (for good, after their retries) since Redis holds the totals.",
                labels=["queue"],
            )
            for outcome in ("completed", "failed")
        }
        durations = {
            kind: HistogramMetricFamily(
                f"ailawyer_job_{kind}_seconds",
                "Wait of jobs from due to their first start."
                if kind == "wait"
                else "Run time of each attempt of a job.",
                labels=["queue"],
            )
            for kind in SAMPLE_KINDS
        }
        for queue, totals in figures.totals.items():
            outcomes["completed"].add_metric([queue], totals.completed)
            outcomes["failed"].add_metric([queue], totals.failed)
            for kind, histogram in totals.durations.items():
                # Bounds written as prometheus_client writes its own ("60.0", "+Inf").
                buckets = [(floatToGoString(b), count) for b, count in histogram.buckets]
                durations[kind].add_metric(
                    [queue],
                    [*buckets, (floatToGoString(math.inf), histogram.count)],
                    histogram.sum_seconds,
                )
        yield from outcomes.values()
        yield from durations.values()

        workers = GaugeMetricFamily(
            "ailawyer_workers", "Worker processes with a fresh heartbeat (installation)."
        )
        workers.add_metric([], figures.workers)
        yield workers
        incidents = GaugeMetricFamily(
            "ailawyer_incident_open",
            "Open alert incidents (see /admin/system), 1 per incident.",
            labels=["incident"],
        )
        for incident in figures.incidents:
            incidents.add_metric([incident.key], 1)
        yield incidents
