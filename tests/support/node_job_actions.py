"""Node's BullMQ removing or retrying one job on our Redis (`node/job_actions.mjs`), as Bull
Board does: the live view and the Dokumente retry must behave the same whoever moves a job."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.node_bullmq import NODE_DIR, install, node_bullmq

from ailawyer.config import Settings
from ailawyer.jobs.options import bull_prefix

SCRIPT = NODE_DIR / "job_actions.mjs"


async def node_job_action(
    settings: Settings, command: str, queue: str, job_id: str, **more: Any
) -> bool:
    """`remove` or `retry` job `job_id` of `queue` with Node's BullMQ (`state=` the state a
    retried job is in, default "failed"); False if it was gone."""
    await asyncio.to_thread(install)
    answer = await node_bullmq(
        command,
        script=SCRIPT,
        url=settings.redis_url,
        prefix=bull_prefix(settings),
        queue=queue,
        id=job_id,
        **more,
    )
    return bool(answer)
