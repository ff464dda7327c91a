"""The `test` queue: a job an admin starts to see the system work (duration, steps, failure)."""

from __future__ import annotations

import asyncio
from typing import Any

from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import AdminTestPayload

# The job log lines tests and the explorer read; one "gestartet" per run of the processor.
STARTED = "Versuch {attempt} gestartet"
STEP = "Schritt {step}/{steps}"
FINISHED = "Abgeschlossen"


class AdminTestFailure(Exception):
    """The failure an admin asked for."""


async def run_admin_test(ctx: JobContext, payload: AdminTestPayload) -> dict[str, Any]:
    """Sleep through the steps, reporting progress; fail at the end if the payload says so."""
    await ctx.log(STARTED.format(attempt=ctx.attempt))
    step_seconds = payload.duration_ms / 1000 / payload.steps
    for step in range(1, payload.steps + 1):
        await asyncio.sleep(step_seconds)
        await ctx.progress(round(step * 100 / payload.steps))
        await ctx.log(STEP.format(step=step, steps=payload.steps))
    if payload.failure == "always" or (payload.failure == "first-attempt" and ctx.attempt == 1):
        raise AdminTestFailure(f"Testfehler wie angefordert (Versuch {ctx.attempt})")
    await ctx.log(FINISHED)
    return {"steps": payload.steps, "attempt": ctx.attempt}
