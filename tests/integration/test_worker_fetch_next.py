"""The worker takes its next job from the script that completes the last one, as Node's
BullMQ does (`ailawyer.jobs.fetch_next_worker`), and keeps bullmq's rules while doing so.

Each test owns its Redis: the script-call count reads the whole server's command stats.
The tests fail when a bullmq upgrade changes what the fetch-next worker relies on.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from bullmq import Job, Queue, Worker
from redis.asyncio import Redis
from tests.support.jobs import isolated, running_pool, wait_until

from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.bullmq_adapter import give_blocking_connection
from ailawyer.jobs.fetch_next_worker import FetchNextWorker
from ailawyer.jobs.options import bull_prefix, retention_options, worker_options
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

# `FetchNextWorker._process_one` is this method of bullmq 3.4.4 with the fetch-next change:
# a bullmq whose method differs needs the change carried over, then this hash renewed.
UPSTREAM_PROCESS_JOB_SHA256 = "1eb52a13d9cc583e67ed0c2f2451a3dd6de8db69bd8ebaaf685ada4ec7f31235"
# Script calls besides one per job: the first fetch of each slot, the empty fetch that
# finds the queue drained, and the lock renewal and stalled check timers.
FIXED_SCRIPT_CALLS = 10

Processor = Callable[[Job, str], Awaitable[Any]]


@pytest.fixture
async def own(settings: Settings, own_redis: RedisServer) -> AsyncIterator[tuple[Settings, Redis]]:
    """Settings pointing at the test's own Redis, and a client for it."""
    own_settings = isolated(settings, redis_url=own_redis.url)
    client = create_redis(own_redis.url)
    yield own_settings, client
    await client.aclose()


@asynccontextmanager
async def running_worker(
    settings: Settings, queue: str, processor: Processor, concurrency: int
) -> AsyncIterator[FetchNextWorker]:
    """A FetchNextWorker built as `WorkerPool` builds its workers (options, connections)."""
    url = settings.redis_url or ""
    options = worker_options(
        settings,
        connection=create_redis(url),
        concurrency=concurrency,
        worker_name="fetch-next-test",
        retention=retention_options(3600, 3600),
    )
    worker = FetchNextWorker(queue, processor, options)
    give_blocking_connection(worker, create_redis(url))
    await worker.blockingRedisConnection.getRedisVersion()
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        if not worker.closing:
            await worker.close()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)


def bull_queue(settings: Settings, client: Redis, name: str) -> Queue:
    return Queue(name, {"connection": client, "prefix": bull_prefix(settings)})


async def enqueue(queue: Queue, count: int, **data: Any) -> list[str]:
    jobs = await queue.addBulk([{"name": "n", "data": {"n": n, **data}} for n in range(count)])
    return [str(job.id) for job in jobs]


async def script_calls(client: Redis) -> int:
    """Lua script calls the server has run so far (EVALSHA, and EVAL after a NOSCRIPT)."""
    stats = await client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{cmd}", {}).get("calls", 0)) for cmd in ("evalsha", "eval"))


async def state_of(queue: Queue, job_id: str) -> str:
    return str(await queue.getJobState(job_id))


def test_bullmq_still_completes_jobs_as_the_fetch_next_worker_was_written_for() -> None:
    source = inspect.getsource(Worker.processJob)
    assert hashlib.sha256(source.encode()).hexdigest() == UPSTREAM_PROCESS_JOB_SHA256, (
        "bullmq's Worker.processJob changed: carry the change over to "
        "FetchNextWorker._process_one, then renew the hash"
    )


@pytest.mark.parametrize("concurrency", [1, 8])
async def test_one_script_call_per_job_in_steady_state(
    own: tuple[Settings, Redis], concurrency: int
) -> None:
    settings, client = own
    name = f"fetch-next-{uuid.uuid4().hex[:6]}"
    count = 300
    await enqueue(bull_queue(settings, client, name), count)
    done = asyncio.Event()
    completed = Counter[str]()

    async def noop(_job: Job, _token: str) -> None:
        return None

    def on_completed(job: Job, _result: Any) -> None:
        completed[str(job.id)] += 1
        if len(completed) == count:
            done.set()

    before = await script_calls(client)
    async with running_worker(settings, name, noop, concurrency) as worker:
        worker.on("completed", on_completed)
        await asyncio.wait_for(done.wait(), 30)
        used = await script_calls(client) - before

    # bullmq's own Worker makes two per job (moveToFinished, then moveToActive).
    assert used <= count + 2 * concurrency + FIXED_SCRIPT_CALLS, used
    assert set(completed.values()) == {1}


async def test_the_next_job_runs_locked_and_completes_exactly_once(
    own: tuple[Settings, Redis],
) -> None:
    base, client = own
    # A lock shorter than the middle job: only its renewal keeps the stalled check away.
    settings = base.model_copy(
        update={"job_lock_seconds": 1.0, "job_stalled_interval_seconds": 0.5}
    )
    name = f"fetch-next-{uuid.uuid4().hex[:6]}"
    queue = bull_queue(settings, client, name)
    ids = await enqueue(queue, 1)
    ids += await enqueue(queue, 1, holdSeconds=2.5)
    ids += await enqueue(queue, 1)
    runs: list[tuple[str, str]] = []
    completed = Counter[str]()
    stalled: list[str] = []
    worker_ref: list[FetchNextWorker] = []

    async def lock_of(job: Job) -> str | None:
        return await client.get(f"{bull_prefix(settings)}:{name}:{job.id}:lock")

    async def process(job: Job, token: str) -> None:
        runs.append((str(job.id), token))
        worker = worker_ref[0]
        assert await lock_of(job) == token
        assert job.id in worker.lockManager.tracked_jobs
        assert (job, token) in worker.jobs
        hold = float(job.data.get("holdSeconds", 0))
        if hold:
            # Running longer than the lock lasts is the subject here.
            await asyncio.sleep(hold)
            assert await lock_of(job) == token, "the lock was renewed"

    def on_completed(job: Job, _result: Any) -> None:
        completed[str(job.id)] += 1

    async with running_worker(settings, name, process, 1) as worker:
        worker_ref.append(worker)
        worker.on("completed", on_completed)
        worker.on("stalled", stalled.append)

        async def all_completed() -> bool:
            return len(completed) == len(ids)

        await wait_until(all_completed, within=20, what="every job to complete")

    assert [job_id for job_id, _ in runs] == ids
    # bullmq's own fetch gives each job a fresh token; the completing script hands the
    # next job the finished one's: the second and third job were fetched next.
    assert len({token for _, token in runs}) == 1
    assert completed == Counter(dict.fromkeys(ids, 1))
    assert stalled == []
    for job_id in ids:
        assert await state_of(queue, job_id) == "completed"
        assert await client.hget(f"{bull_prefix(settings)}:{name}:{job_id}", "ats") == "1"


@pytest.mark.parametrize("stop", ["close", "pause-then-close"])
async def test_a_stopping_worker_fetches_nothing_and_loses_nothing(
    own: tuple[Settings, Redis], stop: str
) -> None:
    settings, client = own
    name = f"fetch-next-{uuid.uuid4().hex[:6]}"
    queue = bull_queue(settings, client, name)
    ids = await enqueue(queue, 3)
    started = asyncio.Event()
    release = asyncio.Event()

    async def process(_job: Job, _token: str) -> None:
        started.set()
        await asyncio.wait_for(release.wait(), 10)

    async with running_worker(settings, name, process, 1) as worker:
        await asyncio.wait_for(started.wait(), 10)
        # The way `WorkerPool.stop` stops: pause, let the jobs finish, then close.
        if stop == "pause-then-close":
            await worker.pause(do_not_wait_active=True)
        closing = asyncio.create_task(worker.close())

        async def close_began() -> bool:
            return worker.closing

        await wait_until(close_began, within=5, what="the close to begin")
        release.set()
        await asyncio.wait_for(closing, 10)

    assert await state_of(queue, ids[0]) == "completed"
    assert [await state_of(queue, job_id) for job_id in ids[1:]] == ["waiting", "waiting"]


async def test_a_job_fetched_as_the_close_begins_is_run_before_the_worker_closes(
    own: tuple[Settings, Redis],
) -> None:
    settings, client = own
    name = f"fetch-next-{uuid.uuid4().hex[:6]}"
    queue = bull_queue(settings, client, name)
    ids = await enqueue(queue, 3)
    closing: list[asyncio.Task[None]] = []

    async def process(_job: Job, _token: str) -> None:
        # Gives the close its turn, as every processor that does any I/O would.
        await asyncio.sleep(0)

    async with running_worker(settings, name, process, 1) as worker:

        def on_completed(job: Job, _result: Any) -> None:
            # The second job is already active and locked for this worker.
            if str(job.id) == ids[0]:
                closing.append(asyncio.ensure_future(worker.close()))

        worker.on("completed", on_completed)

        async def close_began() -> bool:
            return bool(closing)

        await wait_until(close_began, within=10, what="the first job to complete")
        await asyncio.wait_for(closing[0], 10)

    assert [await state_of(queue, job_id) for job_id in ids] == [
        "completed",
        "completed",
        "waiting",
    ]


async def test_the_worker_pool_runs_fetch_next_workers(isolated_services: Services) -> None:
    async with running_pool(isolated_services) as pool:
        assert pool.runners
        assert all(isinstance(runner.worker, FetchNextWorker) for runner in pool.runners)
