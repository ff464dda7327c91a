"""The `system` queue: maintenance tasks, started by the worker's job scheduler."""

from __future__ import annotations

from typing import Any

from ailawyer.dokumente.recovery import requeue_orphaned_dokumente
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import SystemTaskPayload
from ailawyer.runtime_settings.definitions import (
    JOB_RETENTION_COMPLETED_SECONDS,
    JOB_RETENTION_FAILED_SECONDS,
)
from ailawyer.worker.maintenance import clean_finished_jobs


async def run_system_task(ctx: JobContext, payload: SystemTaskPayload) -> dict[str, Any]:
    """Run the maintenance task the payload names."""
    match payload.task:
        case "retention-cleanup":
            runtime = ctx.services.runtime_settings
            removed = await clean_finished_jobs(
                ctx.services.jobs,
                completed_seconds=runtime.get(JOB_RETENTION_COMPLETED_SECONDS),
                failed_seconds=runtime.get(JOB_RETENTION_FAILED_SECONDS),
            )
            await ctx.log(f"Entfernt: {removed}")
            return {"removed": removed}
        case "dokumente-recovery":
            requeued = await requeue_orphaned_dokumente(ctx.services)
            await ctx.log(f"Dokumente ohne Vorgang neu eingereiht: {requeued}")
            return {"requeued": requeued}
