"""Bar geometry for the per-minute chart, drawn as inline SVG (attributes, no inline styles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ailawyer.jobs.metrics import QueueMetrics

WIDTH = 240
HEIGHT = 48
GAP = 1


@dataclass(frozen=True)
class Bar:
    """One minute: a completed segment on the baseline and a failed one stacked on top."""

    x: float
    width: float
    completed_y: float
    completed_height: float
    failed_y: float
    failed_height: float
    completed: int
    failed: int
    at: datetime


def minute_bars(metrics: QueueMetrics) -> list[Bar]:
    """One bar per minute, scaled to the busiest minute (an empty hour draws nothing)."""
    peak = metrics.busiest_minute
    slot = WIDTH / len(metrics.completed)
    bars = []
    for index, (completed, failed) in enumerate(
        zip(metrics.completed, metrics.failed, strict=True)
    ):
        completed_height = HEIGHT * completed / peak if peak else 0.0
        failed_height = HEIGHT * failed / peak if peak else 0.0
        bars.append(
            Bar(
                x=round(index * slot, 2),
                width=round(slot - GAP, 2),
                completed_y=round(HEIGHT - completed_height, 2),
                completed_height=round(completed_height, 2),
                failed_y=round(HEIGHT - completed_height - failed_height, 2),
                failed_height=round(failed_height, 2),
                completed=completed,
                failed=failed,
                at=datetime.fromtimestamp((metrics.first_minute + index) * 60, UTC),
            )
        )
    return bars
