"""The garbage collector of an `ailawyer serve` process, and what its pauses cost.

Why this exists: an app process holds thousands of WebSocket connections for hours. Each
is ~190 objects the cyclic collector tracks (tasks, coroutines, queues and buffers of
uvicorn, websockets and python-engineio), and a full collection walks all of them while
the process stands still: with 5,000 connections, ~1 M objects, it paused for 1.4–1.9 s
and put every notification delivered meanwhile into the tail (bench/RESULTS.md, issue 15).

What is done, once the app has started (imports, templates, routes, pools warm):
- `gc.freeze()`: the ~167,000 start-up objects live as long as the process and are never
  garbage; frozen, no collection walks them again (a full collection at 1,500 sockets
  went from 1.42 to 0.90 s on the loaded test machine).
- Collection thresholds (THRESHOLDS): with CPython's, a full collection ran every
  10-30 s at 5,000 sockets; with these, none ran in the bench's two 30 s rows.
- The pause of every collection is observed, by generation, in the process's /metrics
  (`ailawyer_gc_pause_seconds`; `ailawyer_gc_frozen_objects` the frozen ones), so a
  deployment sees what its connection count costs.
The worker holds no such crowd of long-lived objects and keeps CPython's defaults.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram

# CPython's default (700, 10, 10) ran a full collection every 10-30 s with 5,000 sockets:
# Engine.IO gives every socket new tasks and timers each ping cycle (25 s), they outlive
# the young generations, so the "more than a quarter promoted" rule always holds and the
# ten-middle-collections rule fires the full one, which then found 20-300 garbage objects
# among ~1 M. A young generation of 10,000 and a hundred middle collections per full one
# make full collections rare (by the young collections measured there, about one per
# half hour while idle); a young collection of 10,000 objects stays a few milliseconds.
THRESHOLDS = (10_000, 10, 100)
PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _PauseProbe:
    """A `gc.callbacks` entry timing each collection into a histogram by generation."""

    def __init__(self, histogram: Histogram) -> None:
        self._by_generation = [histogram.labels(str(generation)) for generation in range(3)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)


def tune_after_startup(registry: CollectorRegistry) -> None:
    """Freeze the start-up objects and observe collection pauses into `registry`.

    Call once per process, when start-up is complete (the app's last start-up hook).
    """
    # Whatever start-up left as garbage is collected first, not frozen for good.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    pauses = Histogram(
        "ailawyer_gc_pause_seconds",
        "Pauses of the garbage collector in this app process, by generation (2 = full).",
        ["generation"],
        buckets=PAUSE_BUCKETS,
        registry=registry,
    )
    gc.callbacks.append(_PauseProbe(pauses))
    Gauge(
        "ailawyer_gc_frozen_objects",
        "Objects frozen after start-up, which no collection walks.",
        registry=registry,
    ).set_function(gc.get_freeze_count)
