"""Node's BullMQ removing or retrying one job on our Redis (`node/job_actions.mjs`), as Bull
Board does: the live view and the Dokumente retry must behave the same whoever moves a job."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.node_bullmq import CALL_TIMEOUT_SECONDS, NODE, NODE_DIR, NodeBullmqError, install

from ailawyer.config import Settings
from ailawyer.jobs.options import bull_prefix

SCRIPT = NODE_DIR / "job_actions.mjs"


async def node_job_action(
    settings: Settings, command: str, queue: str, job_id: str, **more: Any
) -> bool:
    """`remove` or `retry` job `job_id` of `queue` with Node's BullMQ (`state=` the state a
    retried job is in, default "failed"); False if it was gone."""
    await asyncio.to_thread(install)
    arguments = {
        "url": settings.redis_url,
        "prefix": bull_prefix(settings),
        "queue": queue,
        "id": job_id,
        **more,
    }
    process = await asyncio.create_subprocess_exec(
        str(NODE),
        str(SCRIPT),
        command,
        json.dumps(arguments),
        cwd=Path(NODE_DIR),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CALL_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        raise NodeBullmqError(f"job_actions.mjs {command} failed:\n{err.decode(errors='replace')}")
    return bool(json.loads(out.decode().strip().splitlines()[-1]))
