"""`tune_after_startup` in a Python of its own: it changes the whole interpreter's collector."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import gc, json
from prometheus_client import CollectorRegistry
from ailawyer.app.gc_tuning import THRESHOLDS, tune_after_startup

kept = [[n] for n in range(10_000)]  # start-up objects the process keeps
registry = CollectorRegistry()
tune_after_startup(registry)
gc.collect()
print(json.dumps({
    "frozen": registry.get_sample_value("ailawyer_gc_frozen_objects"),
    "full": registry.get_sample_value("ailawyer_gc_pause_seconds_count", {"generation": "2"}),
    "young": registry.get_sample_value("ailawyer_gc_pause_seconds_count", {"generation": "0"}),
    "thresholds": gc.get_threshold() == THRESHOLDS,
}))
"""


def test_start_up_objects_are_frozen_and_each_collection_is_timed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(done.stdout)

    assert found["frozen"] >= 10_000
    assert found["full"] == 1  # the gc.collect() after tuning, and only that one
    assert found["young"] == 0
    assert found["thresholds"]
