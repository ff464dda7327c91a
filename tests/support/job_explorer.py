"""Jobs in every state, in a queue no worker of ours serves, for the job explorer's tests.

A "probe" queue is undeclared, so `ailawyer worker` ignores it and its counts stay exactly
what a test made. Finished jobs are produced by a bullmq Worker run by the test itself,
which completes or fails each job as its data says and writes job log lines.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from bullmq import Job, Worker
from tests.support.http import csrf_token
from tests.support.jobs import wait_until

from ailawyer.jobs.bullmq_adapter import read_counts
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

LOG_LINE = "Sonde {n}: Schritt {step}"
FAILURE = "Sondenfehler {n}"

# A count as the explorer's pages show it (tabs, cards), and a row of a job list.
COUNT = re.compile(r'data-count="([^"]+):([a-z-]+)">([\d.]+)<')
ROW = re.compile(r'<tr data-job-id="([^"]+)" data-job-row-state="([a-z-]*)">')


def counts_on(html: str, queue: str) -> dict[str, int]:
    """The counts a page shows for `queue` (each count once; tabs and table agree)."""
    found: dict[str, int] = {}
    for name, state, value in COUNT.findall(html):
        if name == queue:
            number = int(value.replace(".", ""))
            assert found.setdefault(state, number) == number, (state, found[state], number)
    return found


def probe_name() -> str:
    return f"probe-{uuid.uuid4().hex[:8]}"


@dataclass
class ProbeQueue:
    """The queue's name and the ids of the jobs a test made, by the state they were put in."""

    name: str
    ids: dict[str, list[str]] = field(default_factory=dict)


class ProbeProcessor:
    """Completes or fails a job as its data says; holds "hold" jobs until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, job: Job, _token: str) -> Any:
        n = job.data.get("n")
        for step in range(1, int(job.data.get("logLines", 0)) + 1):
            await job.log(LOG_LINE.format(n=n, step=step))
        outcome = job.data.get("outcome")
        if outcome == "hold":
            await self.release.wait()
        if outcome == "fail":
            raise RuntimeError(FAILURE.format(n=n))
        return {"n": n}


def _worker(services: Services, name: str, processor: ProbeProcessor, concurrency: int) -> Worker:
    return Worker(
        name,
        processor,
        {
            "connection": create_redis(services.settings.redis_url or ""),
            "prefix": services.jobs.prefix,
            "concurrency": concurrency,
            "autorun": False,
        },
    )


@asynccontextmanager
async def probe_worker(
    services: Services, name: str, concurrency: int = 1
) -> AsyncIterator[ProbeProcessor]:
    """A test-owned worker that completes (or fails) the jobs of queue `name` while the
    block runs."""
    processor = ProbeProcessor()
    worker = _worker(services, name, processor, concurrency)
    task = asyncio.create_task(worker.run())
    try:
        yield processor
    finally:
        processor.release.set()
        await worker.close()
        await asyncio.gather(task, return_exceptions=True)


async def _until_counts(services: Services, name: str, wanted: Mapping[str, int]) -> None:
    async def reached() -> bool:
        counts = (await read_counts(services.jobs.queue(name))).counts
        return all(counts[state] == number for state, number in wanted.items())

    await wait_until(reached, within=15, what=f"{name} to hold {dict(wanted)}")


async def add(services: Services, name: str, data: Mapping[str, Any], **options: Any) -> str:
    """Add one job to queue `name` (bullmq options as keywords); returns its id."""
    job = await services.jobs.queue(name).add("sonde", dict(data), {"attempts": 1, **options})
    return str(job.id)


async def finish(
    services: Services,
    name: str,
    jobs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    concurrency: int = 1,
) -> list[str]:
    """Add (data, options) jobs and run them with a test-owned worker until each finished."""
    before = (await read_counts(services.jobs.queue(name))).counts
    ids = [await add(services, name, data, **options) for data, options in jobs]
    completed = sum(data.get("outcome") != "fail" for data, _ in jobs)
    processor = ProbeProcessor()
    worker = _worker(services, name, processor, concurrency)
    task = asyncio.create_task(worker.run())
    try:
        await _until_counts(
            services,
            name,
            {
                "completed": before["completed"] + completed,
                "failed": before["failed"] + len(jobs) - completed,
            },
        )
    finally:
        await worker.close()
        await asyncio.gather(task, return_exceptions=True)
    return ids


@asynccontextmanager
async def probe_queue(
    services: Services,
    *,
    completed: int = 0,
    failed: int = 0,
    waiting: int = 0,
    delayed: int = 0,
    prioritized: int = 0,
    active: int = 0,
    log_lines: int = 0,
    name: str | None = None,
) -> AsyncIterator[ProbeQueue]:
    """A probe queue holding exactly the given numbers of jobs per state while the block runs."""
    probe = ProbeQueue(name=name or probe_name())
    finished = [
        ({"outcome": "complete", "n": n, "logLines": log_lines}, {}) for n in range(completed)
    ] + [({"outcome": "fail", "n": n, "logLines": log_lines}, {}) for n in range(failed)]
    ids = await finish(services, probe.name, finished) if finished else []
    probe.ids["completed"], probe.ids["failed"] = ids[:completed], ids[completed:]
    processor = ProbeProcessor()
    worker: Worker | None = None
    task: asyncio.Task[None] | None = None
    if active:
        probe.ids["active"] = [
            await add(services, probe.name, {"outcome": "hold", "n": n}) for n in range(active)
        ]
        worker = _worker(services, probe.name, processor, active)
        task = asyncio.create_task(worker.run())
        await _until_counts(services, probe.name, {"active": active})
        # Takes nothing more, so the jobs added next keep their states.
        await worker.pause(do_not_wait_active=True)
    probe.ids["waiting"] = [
        await add(services, probe.name, {"outcome": "complete", "n": n}) for n in range(waiting)
    ]
    probe.ids["delayed"] = [
        await add(services, probe.name, {"outcome": "complete", "n": n}, delay=3_600_000)
        for n in range(delayed)
    ]
    probe.ids["prioritized"] = [
        await add(services, probe.name, {"outcome": "complete", "n": n}, priority=5)
        for n in range(prioritized)
    ]
    try:
        yield probe
    finally:
        processor.release.set()
        if worker is not None and task is not None:
            await worker.close()
            await asyncio.gather(task, return_exceptions=True)


async def post_form(
    client: httpx.AsyncClient, url: str, data: Mapping[str, Any] | None = None
) -> httpx.Response:
    """Submit an explorer form (with the page's CSRF token), without following the redirect."""
    token = await csrf_token(client, "/admin/jobs")
    return await client.post(url, data={"_csrf_token": token, **(data or {})})
