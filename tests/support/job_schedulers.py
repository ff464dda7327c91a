"""Job schedulers for tests that need one: parked far in the future, so no worker runs it."""

from __future__ import annotations

import uuid

from ailawyer.services import Services

# Once a year, on 1 January at 03:00: no run comes due during a test.
YEARLY = "0 3 1 1 *"


async def park_scheduler(services: Services, queue: str) -> str:
    """A new job scheduler of `queue` whose next run is months away; returns its id."""
    scheduler_id = f"park-{uuid.uuid4().hex[:8]}"
    await services.jobs.queue(queue).upsertJobScheduler(
        scheduler_id, {"pattern": YEARLY}, "geparkt", {"task": "retention-cleanup"}
    )
    return scheduler_id
