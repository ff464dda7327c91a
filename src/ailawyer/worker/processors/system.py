"""The `system` queue: maintenance tasks, started by the job schedulers (worker.maintenance)."""

from __future__ import annotations

from typing import Any

from ailawyer.dokumente.recovery import requeue_orphaned_dokumente
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.worker.retention import run_retention


async def run_system_task(ctx: JobContext, payload: SystemTaskPayload) -> dict[str, Any]:
    """Run the maintenance task the payload names."""
    match payload.task:
        case "retention-cleanup":
            result = await run_retention(ctx.services)
            await ctx.log(result.summary())
            return result.figures()
        case "dokumente-recovery":
            requeued = await requeue_orphaned_dokumente(ctx.services)
            await ctx.log(f"Dokumente ohne Vorgang neu eingereiht: {requeued}")
            return {"requeued": requeued}
