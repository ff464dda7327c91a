"""Bar geometry for the finished-jobs chart, drawn as inline SVG (attributes, no inline
styles), and the periods it offers (1 hour, 24 hours, 7 days: `jobs.metrics.PERIODS`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ailawyer.jobs.metrics import LAST_HOUR, PERIODS, Period, QueueMetrics

WIDTH = 240
HEIGHT = 48
# A quarter of each bar's slot stays empty, so neighbouring bars stay apart at any count.
GAP_SHARE = 0.25

# The periods as the selector names them (`?zeitraum=` takes the key).
PERIOD_LABELS: Mapping[str, str] = {"1h": "1 Std.", "24h": "24 Std.", "7d": "7 Tage"}
# What one bar of each period is, for "höchstens … pro …".
BAR_LABELS: Mapping[str, str] = {"1h": "Minute", "24h": "Viertelstunde", "7d": "Stunde"}
# The periods as a heading says them ("Kennzahlen der letzten Stunde").
PERIOD_TITLES: Mapping[str, str] = {
    "1h": "der letzten Stunde",
    "24h": "der letzten 24 Stunden",
    "7d": "der letzten 7 Tage",
}


def period_from(raw: str) -> Period:
    """The period `?zeitraum=` names; the last hour for anything else."""
    return PERIODS.get(raw, LAST_HOUR)


@dataclass(frozen=True)
class Bar:
    """One bar: a completed segment on the baseline and a failed one stacked on top."""

    x: float
    width: float
    completed_y: float
    completed_height: float
    failed_y: float
    failed_height: float
    completed: int
    failed: int
    at: datetime  # when the bar's span starts
    until: datetime  # when it ends


def bars(metrics: QueueMetrics) -> list[Bar]:
    """One bar per span of the period, scaled to the busiest (an empty period draws nothing)."""
    peak = metrics.peak
    slot = WIDTH / len(metrics.completed)
    span = metrics.bucket_minutes * 60
    drawn = []
    for index, (completed, failed) in enumerate(
        zip(metrics.completed, metrics.failed, strict=True)
    ):
        completed_height = HEIGHT * completed / peak if peak else 0.0
        failed_height = HEIGHT * failed / peak if peak else 0.0
        start = metrics.first_minute * 60 + index * span
        drawn.append(
            Bar(
                x=round(index * slot, 2),
                width=round(slot * (1 - GAP_SHARE), 2),
                completed_y=round(HEIGHT - completed_height, 2),
                completed_height=round(completed_height, 2),
                failed_y=round(HEIGHT - completed_height - failed_height, 2),
                failed_height=round(failed_height, 2),
                completed=completed,
                failed=failed,
                at=datetime.fromtimestamp(start, UTC),
                until=datetime.fromtimestamp(start + span, UTC),
            )
        )
    return drawn
