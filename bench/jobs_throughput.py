"""No-op job throughput, enqueue to completion: Python's bullmq (as `ailawyer worker` runs it)
side by side with Node's BullMQ, on the same Redis, in one run.

    uv run python -m bench.jobs_throughput --jobs 20000 --repeat 3

For each row the orchestrator starts the worker process(es), waits until they are ready,
then enqueues N no-op jobs (addBulk, batches of 1,000) and polls the completed count; the
time runs from the first add to the last completion. Each row uses a fresh queue. Node's
worker is `bench/node/worker.mjs` (`npm install` in bench/node first).
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
from dataclasses import dataclass
from pathlib import Path

from bullmq import Queue, Worker

from ailawyer.config import Environment, Settings
from ailawyer.embedded_redis import RedisServer
from ailawyer.jobs.options import worker_options
from ailawyer.redis_client import create_redis

NODE_DIR = Path(__file__).parent / "node"
PREFIX = "bench"
BATCH = 1000
POLL_SECONDS = 0.01


@dataclass
class Row:
    runtime: str
    processes: int
    concurrency: int
    jobs: int
    seconds: float
    # When the last add returned: the producer alone, the same for both runtimes.
    enqueued: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds


def worker_command(runtime: str, url: str, queue: str, concurrency: int) -> list[str]:
    if runtime == "node":
        return ["node", str(NODE_DIR / "worker.mjs"), url, queue, str(concurrency), PREFIX]
    return [sys.executable, "-m", "bench.jobs_throughput", "--worker", url, queue, str(concurrency)]


def start_workers(runtime: str, url: str, queue: str, concurrency: int, count: int) -> list:
    processes = []
    for _ in range(count):
        process = subprocess.Popen(
            worker_command(runtime, url, queue, concurrency),
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


async def measure(url: str, runtime: str, processes: int, concurrency: int, jobs: int) -> Row:
    queue_name = f"{runtime}-{processes}x{concurrency}-{uuid.uuid4().hex[:6]}"
    workers = start_workers(runtime, url, queue_name, concurrency, processes)
    redis = create_redis(url)
    queue = Queue(queue_name, {"connection": redis, "prefix": PREFIX})
    try:
        started = time.perf_counter()
        for first in range(0, jobs, BATCH):
            batch = [
                {"name": "noop", "data": {"n": n}} for n in range(first, min(first + BATCH, jobs))
            ]
            await queue.addBulk(batch)
        enqueued = time.perf_counter() - started
        # Polling the count costs the workers one cheap command per 10 ms.
        while (await queue.getJobCounts("completed"))["completed"] < jobs:  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
    finally:
        stop_workers(workers)
        await redis.aclose()
    return Row(runtime, processes, concurrency, jobs, seconds, enqueued)


async def run_worker(url: str, queue: str, concurrency: int) -> None:
    """A Python worker process: bullmq with the options `ailawyer worker` uses, no-op jobs."""
    settings = Settings(_env_file=None, environment=Environment.TEST, redis_url=url)
    client = create_redis(url)

    async def noop(_job: object, _token: str) -> None:
        return None

    options = worker_options(
        settings,
        connection=client,
        concurrency=concurrency,
        worker_name=f"bench-{os.getpid()}",
        # Keep every completed job: the orchestrator counts them.
        retention={"removeOnComplete": False, "removeOnFail": False},
    )
    options["prefix"] = PREFIX
    worker = Worker(queue, noop, options)
    await worker.blockingRedisConnection.getRedisVersion()
    task = asyncio.create_task(worker.run())
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await worker.close()
    await asyncio.gather(task, return_exceptions=True)


def table(rows: list[Row]) -> str:
    lines = [
        "| worker | processes | concurrency | jobs | enqueued after s | done after s | jobs/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.runtime} | {row.processes} | {row.concurrency} | {row.jobs:,} "
            f"| {row.enqueued:.2f} | {row.seconds:.2f} | {row.rate:,.0f} |"
        )
    return "\n".join(lines)


async def main(jobs: int, cores: int, repeat: int) -> None:
    """Every configuration `repeat` times, Python and Node alternating; the median run counts."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as data:
        server = RedisServer(data_dir=Path(data))
        server.start()
        try:
            for processes, concurrency in ((1, 1), (1, 50), (cores, 1), (cores, 50)):
                runs: dict[str, list[Row]] = {"python": [], "node": []}
                for _ in range(repeat):
                    for runtime, measured in runs.items():
                        row = await measure(server.url, runtime, processes, concurrency, jobs)
                        measured.append(row)
                        label = f"{runtime:6} {processes}x{concurrency:<3}"
                        print(f"{label} {row.rate:8,.0f} jobs/s", flush=True)
                for measured in runs.values():
                    rows.append(sorted(measured, key=lambda r: r.rate)[len(measured) // 2])
        finally:
            server.stop()
    print()
    print(table(rows))
    print()
    for python_row, node_row in zip(rows[::2], rows[1::2], strict=True):
        print(
            f"{python_row.processes} process(es) x {python_row.concurrency}: "
            f"Python/Node = {python_row.rate / node_row.rate:.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        import uvloop

        uvloop.run(run_worker(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--jobs", type=int, default=20_000)
        parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--repeat", type=int, default=3)
        arguments = parser.parse_args()
        asyncio.run(main(arguments.jobs, arguments.cores, arguments.repeat))
