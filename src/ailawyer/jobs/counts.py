"""How many jobs a queue holds per state, and whether it is paused (explorer and live updates)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bullmq import Queue

# bullmq's state names, in the order a job usually passes them.
STATES = ("waiting", "prioritized", "delayed", "active", "completed", "failed")
# bullmq's API says "waiting" where its Redis key says "wait".
_STATE_KEYS = {"waiting": "wait"}
# The states bullmq keeps in a list (newest first); the others are sorted sets.
LIST_STATES = frozenset({"waiting", "active"})


def state_key(state: str) -> str:
    """bullmq's key suffix of a state (`waiting` is stored as `wait`)."""
    return _STATE_KEYS.get(state, state)


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
