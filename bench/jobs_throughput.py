"""No-op job throughput, enqueue to completion: Python's bullmq (as `ailawyer worker` runs it)
side by side with Node's BullMQ, on the same Redis, in one run.

    uv run python -m bench.jobs_throughput --jobs 20000 --repeat 3

For each row the orchestrator starts the worker process(es), waits until they are ready,
then enqueues N no-op jobs (addBulk, batches of 1,000) and polls the completed count; the
time runs from the first add to the last completion. Each row uses fresh keys. Node's
worker is `bench/node/worker.mjs` (`npm install` in bench/node first). Besides the rate,
each row reports the CPU the worker processes and Redis used per job (from "ready" to the
last completion): on a busy machine the rates swing, CPU per job much less.

The workers (`--workers`, default all but `bullmq`):
- `node`: Node's BullMQ, its default options.
- `python`: the Worker class and options `ailawyer worker` uses (FetchNextWorker,
  `worker_options`), with a no-op processor.
- `wrapped`: `ailawyer worker`'s own WorkerPool, its processor wrapper (payload validation,
  log context, failure handling) and listeners (job activity and metrics) around a no-op
  body; logging configured as the worker's, to a file only, at the default level
  (`--log-level DEBUG` adds the two per-job lines, to see what they cost).
- `bullmq`: bullmq's own Worker with the same options: the state before fetch-next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from bullmq import Job, Queue, Worker
from redis.asyncio import Redis

from ailawyer.config import DEFAULT_LOG_LEVEL, Environment, Settings
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.catalog import ADMIN_TEST
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.fetch_next_worker import FetchNextWorker
from ailawyer.jobs.options import bull_prefix, worker_options
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.redis_client import create_redis

NODE_DIR = Path(__file__).parent / "node"
BATCH = 1000
POLL_SECONDS = 0.01
WORKERS = ("node", "python", "wrapped", "bullmq")
DEFAULT_WORKERS = ("node", "python", "wrapped")
# Every row runs the queue the wrapper is bound to, with a payload it accepts.
QUEUE = ADMIN_TEST.name
JOB_DATA = AdminTestPayload(duration_ms=0, user_id=1).to_job_data()


@dataclass
class Row:
    runtime: str
    processes: int
    concurrency: int
    jobs: int
    seconds: float
    # When the last add returned: the producer alone, the same for both runtimes.
    enqueued: float
    # CPU seconds from "ready" to the last completion: the worker processes', and Redis'.
    # Unlike the rate, they hardly depend on what else the machine runs.
    worker_cpu: float
    redis_cpu: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def worker_us(self) -> float:
        """Worker CPU per job, in microseconds."""
        return self.worker_cpu / self.jobs * 1e6

    @property
    def redis_us(self) -> float:
        """Redis CPU per job, in microseconds."""
        return self.redis_cpu / self.jobs * 1e6


def median_row(measured: list[Row]) -> Row:
    """The run of median rate, with the median CPU figures of all runs."""
    middle = len(measured) // 2
    row = sorted(measured, key=lambda r: r.rate)[middle]
    return replace(
        row,
        worker_cpu=sorted(r.worker_cpu for r in measured)[middle],
        redis_cpu=sorted(r.redis_cpu for r in measured)[middle],
    )


def cpu_seconds(processes: list) -> float:
    """User and system CPU seconds used so far by the processes' groups (Linux `/proc`):
    `node` may be a wrapper that runs the real one as its child."""
    groups = {process.pid for process in processes}
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in groups:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def redis_cpu_seconds(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def bench_settings(url: str, key_prefix: str) -> Settings:
    """The settings of one row: the defaults, this Redis, the row's own keys."""
    return Settings(
        _env_file=None, environment=Environment.TEST, redis_url=url, redis_key_prefix=key_prefix
    )


def worker_command(
    runtime: str, url: str, key_prefix: str, concurrency: int, log_level: str
) -> list[str]:
    if runtime == "node":
        prefix = bull_prefix(bench_settings(url, key_prefix))
        return ["node", str(NODE_DIR / "worker.mjs"), url, QUEUE, str(concurrency), prefix]
    module = [sys.executable, "-m", "bench.jobs_throughput", "--worker", runtime]
    return [*module, url, key_prefix, str(concurrency), log_level]


def start_workers(
    runtime: str, url: str, key_prefix: str, concurrency: int, count: int, log_level: str
) -> list:
    processes = []
    for _ in range(count):
        process = subprocess.Popen(
            worker_command(runtime, url, key_prefix, concurrency, log_level),
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        processes.append(process)
    for process in processes:
        line = process.stdout.readline() if process.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"{runtime} worker did not start: {line!r}")
    return processes


def stop_workers(processes: list) -> None:
    """SIGTERM each worker's process group (under `uv run`, `node` is a wrapper process)."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


async def measure(
    url: str, runtime: str, processes: int, concurrency: int, jobs: int, log_level: str
) -> Row:
    key_prefix = f"bench{uuid.uuid4().hex[:8]}"
    workers = start_workers(runtime, url, key_prefix, concurrency, processes, log_level)
    redis = create_redis(url)
    prefix = bull_prefix(bench_settings(url, key_prefix))
    queue = Queue(QUEUE, {"connection": redis, "prefix": prefix})
    try:
        worker_cpu = cpu_seconds(workers)
        redis_cpu = await redis_cpu_seconds(redis)
        started = time.perf_counter()
        for first in range(0, jobs, BATCH):
            batch = [
                {"name": ADMIN_TEST.job_name, "data": JOB_DATA}
                for _ in range(first, min(first + BATCH, jobs))
            ]
            await queue.addBulk(batch)
        enqueued = time.perf_counter() - started
        # Polling the count costs the workers one cheap command per 10 ms.
        while (await queue.getJobCounts("completed"))["completed"] < jobs:  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        worker_cpu = cpu_seconds(workers) - worker_cpu
        redis_cpu = await redis_cpu_seconds(redis) - redis_cpu
    finally:
        stop_workers(workers)
        await redis.aclose()
    return Row(runtime, processes, concurrency, jobs, seconds, enqueued, worker_cpu, redis_cpu)


async def run_worker(
    runtime: str, url: str, key_prefix: str, concurrency: int, log_level: str
) -> None:
    """One worker process of `runtime` (see the module's docstring) until SIGTERM."""
    settings = bench_settings(url, key_prefix).model_copy(update={"log_level": log_level})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if runtime == "wrapped":
        await run_pool(settings, concurrency, stop)
        return
    client = create_redis(url)

    async def noop(_job: Job, _token: str) -> None:
        return None

    options = worker_options(
        settings,
        connection=client,
        concurrency=concurrency,
        worker_name=f"bench-{os.getpid()}",
        # Keep every completed job: the orchestrator counts them.
        retention={"removeOnComplete": False, "removeOnFail": False},
    )
    worker_class = Worker if runtime == "bullmq" else FetchNextWorker
    worker = worker_class(QUEUE, noop, options)
    await worker.blockingRedisConnection.getRedisVersion()
    task = asyncio.create_task(worker.run())
    print("ready", flush=True)
    await stop.wait()
    await worker.close()
    await asyncio.gather(task, return_exceptions=True)


async def run_pool(settings: Settings, concurrency: int, stop: asyncio.Event) -> None:
    """`ailawyer worker`'s WorkerPool, bound to one queue with a no-op processor body.

    Its retention keeps completed jobs for days (the runtime setting's default), so the
    orchestrator's count sees them all.
    """
    from ailawyer.logs import configure_logging
    from ailawyer.services import Services
    from ailawyer.worker.bindings import QueueBinding
    from ailawyer.worker.pool import WorkerPool

    with tempfile.TemporaryDirectory() as logs:
        # As `ailawyer worker` logs, but not to stdout: the orchestrator reads only "ready".
        configure_logging("worker", level=settings.log_level, log_dir=Path(logs), stdout=False)

        async def noop(_ctx: JobContext, _payload: AdminTestPayload) -> None:
            return None

        services = Services.create(settings)
        pool = WorkerPool(
            services,
            f"bench-{os.getpid()}",
            bindings={QUEUE: QueueBinding(ADMIN_TEST, noop)},
        )
        await pool.start()
        # What the pool's own watcher does when the concurrency setting changes.
        for runner in pool.runners:
            runner.worker.opts["concurrency"] = concurrency
        print("ready", flush=True)
        await stop.wait()
        await pool.stop(10.0, asyncio.Event())
        await services.close()


def table(rows: list[Row]) -> str:
    lines = [
        "| worker | processes | concurrency | jobs | enqueued after s | done after s | jobs/s "
        "| worker CPU µs/job | Redis CPU µs/job |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.runtime} | {row.processes} | {row.concurrency} | {row.jobs:,} "
            f"| {row.enqueued:.2f} | {row.seconds:.2f} | {row.rate:,.0f} "
            f"| {row.worker_us:,.0f} | {row.redis_us:,.0f} |"
        )
    return "\n".join(lines)


async def main(jobs: int, cores: int, repeat: int, workers: list[str], log_level: str) -> None:
    """Every configuration `repeat` times, the workers alternating; the median run counts."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as data:
        server = RedisServer(data_dir=Path(data))
        server.start()
        try:
            for processes, concurrency in ((1, 1), (1, 50), (cores, 1), (cores, 50)):
                runs: dict[str, list[Row]] = {runtime: [] for runtime in workers}
                for _ in range(repeat):
                    for runtime, measured in runs.items():
                        row = await measure(
                            server.url, runtime, processes, concurrency, jobs, log_level
                        )
                        measured.append(row)
                        label = f"{runtime:7} {processes}x{concurrency:<3}"
                        print(f"{label} {row.rate:8,.0f} jobs/s", flush=True)
                rows.extend(median_row(measured) for measured in runs.values())
        finally:
            server.stop()
    print()
    print(table(rows))
    print()
    print("Ratios by jobs/s, and (in brackets) by worker CPU per job, the peer's over ours:")
    for first in range(0, len(rows), len(workers)):
        named = {row.runtime: row for row in rows[first : first + len(workers)]}
        ratios = [
            f"{name}/{peer} = {named[name].rate / named[peer].rate:.2f} "
            f"({named[peer].worker_us / named[name].worker_us:.2f})"
            for name, peer in (
                ("python", "node"),
                ("wrapped", "node"),
                ("wrapped", "python"),
                ("python", "bullmq"),
            )
            if name in named and peer in named
        ]
        row = rows[first]
        print(f"{row.processes} process(es) x {row.concurrency}: " + ", ".join(ratios))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        import uvloop

        runtime, url, key_prefix, concurrency, log_level = sys.argv[2:7]
        uvloop.run(run_worker(runtime, url, key_prefix, int(concurrency), log_level))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--jobs", type=int, default=20_000)
        parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument(
            "--workers",
            default=",".join(DEFAULT_WORKERS),
            help=f"comma-separated, of {', '.join(WORKERS)}",
        )
        parser.add_argument("--log-level", default=DEFAULT_LOG_LEVEL, help="of `wrapped`")
        arguments = parser.parse_args()
        chosen = arguments.workers.split(",")
        if unknown := set(chosen) - set(WORKERS):
            parser.error(f"unknown workers: {', '.join(sorted(unknown))}")
        asyncio.run(
            main(arguments.jobs, arguments.cores, arguments.repeat, chosen, arguments.log_level)
        )
