"""Jobs with the whole system running: enqueue to the user's notification on the socket.

    uv run python -m bench.jobs_end_to_end --jobs 1000 --rate 20 --seconds 30

bench/jobs_throughput.py measures bullmq alone (no-op jobs); this one runs the real
`dokumente` job end to end: an embedded Redis, a fresh PostgreSQL database
(BENCH_POSTGRES_URL), one `ailawyer serve` and `--workers` `ailawyer worker` processes
with their default settings (concurrency 4 per worker for `dokumente`). `--users` users
are connected over Socket.IO (the raw clients of bench/realtime_latency.py), one Akte
each. Dokumente (a 2-page PDF stored as the upload would store it, and its row) are
created beforehand, so only the job is measured: `JobQueues.enqueue` as the upload calls
it, then the worker reads the PDF, updates the row (with status events to the Akte room)
and creates the "Dokument verarbeitet" notification, which the uploader's socket receives.

1. Throughput: `--jobs` jobs enqueued at once; jobs/s = jobs / (first enqueue to last
   notification received).
2. Latency: `--rate` jobs per second for `--seconds` (below the throughput); per job,
   from just before `enqueue` to its notification parsed by the client (CLOCK_MONOTONIC).

`--py-spy PATH` samples one worker process during the throughput run (bench/profile.py).
Results: stdout and bench/out/jobs_end_to_end.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import profile
from bench.realtime_latency import (
    Client,
    connect_clients,
    create_users,
    percentile,
)
from bench.system import bench_system
from sqlalchemy import insert, select
from tests.support.pdfs import numbered_pdf

from ailawyer.db.models import Akte, Dokument, DokumentStatus, User
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.logs import configure_logging
from ailawyer.services import Services

REPOSITORY = Path(__file__).resolve().parents[1]
OUT = REPOSITORY / "bench" / "out" / "jobs_end_to_end.json"
ENQUEUE_CONCURRENCY = 50
WAIT_SECONDS = 600.0
WORKER_READY_SECONDS = 60.0


@dataclass
class Arrivals:
    """When each Dokument's notification reached its user's socket (monotonic ns)."""

    at_ns: dict[int, int] = field(default_factory=dict)
    expected: set[int] = field(default_factory=set)
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, data: dict[str, Any], now_ns: int) -> None:
        dokument_id = data.get("data", {}).get("dokumentId")
        if dokument_id is not None:
            self.at_ns.setdefault(int(dokument_id), now_ns)
        if self.expected and self.expected <= self.at_ns.keys():
            self.complete.set()


async def create_dokumente(
    services: Services, owners: list[tuple[int, int]], count: int, offset: int
) -> list[DokumentPayload]:
    """`count` stored PDFs with their rows, round-robin over (user, Akte); their payloads."""
    storage = DokumentStorage(services.settings.upload_dir)
    content = numbered_pdf(2)
    rows = []
    for number in range(count):
        user_id, akte_id = owners[(offset + number) % len(owners)]
        stored = storage.save(akte_id, io.BytesIO(content))
        rows.append(
            {
                "akte_id": akte_id,
                "dateiname": f"bench-{offset + number}.pdf",
                "storage_key": stored.key,
                "size_bytes": stored.size_bytes,
                "sha256": stored.sha256,
                "status": DokumentStatus.AUSSTEHEND,
                "uploaded_by_id": user_id,
            }
        )
    async with services.db.session() as db:
        created = (
            await db.execute(
                insert(Dokument).returning(Dokument.id, Dokument.akte_id, Dokument.uploaded_by_id),
                rows,
            )
        ).all()
        await db.commit()
        akten = {akte_id for _, akte_id in owners}
        kanzlei_of = dict(
            (await db.execute(select(Akte.id, Akte.kanzlei_id).where(Akte.id.in_(akten)))).all()
        )
    return [
        DokumentPayload(dokument_id=d, akte_id=a, user_id=u, kanzlei_id=kanzlei_of[a])
        for d, a, u in created
    ]


async def enqueue_all(
    services: Services, payloads: list[DokumentPayload], rate: float | None
) -> dict[int, int]:
    """Enqueue (at `rate` per second, or as fast as possible); dokument id -> t0 ns."""
    started_ns: dict[int, int] = {}
    slots = asyncio.Semaphore(ENQUEUE_CONCURRENCY)

    async def one(payload: DokumentPayload) -> None:
        async with slots:
            started_ns[payload.dokument_id] = time.monotonic_ns()
            # The job id the upload gives it (see ailawyer.dokumente.upload).
            job_id = dokument_job_id(payload.dokument_id)
            await services.jobs.enqueue("dokumente", payload, job_id=job_id)

    tasks = []
    began = time.monotonic()
    for number, payload in enumerate(payloads):
        if rate is not None:
            await asyncio.sleep(max(0.0, began + number / rate - time.monotonic()))
        tasks.append(asyncio.ensure_future(one(payload)))
    await asyncio.gather(*tasks)
    return started_ns


def latency_summary(started: dict[int, int], arrivals: Arrivals) -> dict[str, Any]:
    latencies = sorted(
        (arrivals.at_ns[d] - t0) / 1e6 for d, t0 in started.items() if d in arrivals.at_ns
    )
    return {
        "received": len(latencies),
        "missing": len(started) - len(latencies),
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


async def main(
    jobs: int, rate: float, seconds: float, users: int, workers: int, py_spy: Path | None
) -> dict[str, Any]:
    results: dict[str, Any] = {"workers": workers, "users": users}
    clients: list[Client] = []
    async with bench_system("ailawyer-jobs-e2e-") as system:
        services, work = system.services, system.work
        # This process enqueues thousands of jobs: its own log lines go to a file only.
        configure_logging("bench", level="WARNING", log_dir=work / "log", stdout=False)
        try:
            people = await create_users(services, users)
            async with services.db.session() as db:
                kanzlei_id = await db.scalar(select(User.kanzlei_id).where(User.id == people[0][0]))
                for n, (user_id, _) in enumerate(people):
                    db.add(
                        Akte(
                            kanzlei_id=kanzlei_id,
                            aktenzeichen=f"{n + 1}/26",
                            kurzrubrum=f"Sache {n + 1}",
                            anwalt_id=user_id,
                        )
                    )
                await db.commit()
                owners = list(
                    (await db.execute(select(Akte.anwalt_id, Akte.id).order_by(Akte.id))).all()
                )
            _, port = system.serve()
            workers_started = [system.start(["worker"], f"worker-{n}") for n in range(workers)]
            deadline = time.monotonic() + WORKER_READY_SECONDS
            while len(await services.workers.alive()) < workers:
                if time.monotonic() > deadline:
                    raise TimeoutError("workers did not start")
                await asyncio.sleep(0.1)
            arrivals = Arrivals()
            ws_url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
            # Arrivals stands in for realtime_latency's Inbox (the same record() method).
            await connect_clients(
                clients,
                people,
                ws_url,
                arrivals,
                users,  # type: ignore[arg-type]
            )

            # 1. Throughput: everything at once.
            burst = await create_dokumente(services, owners, jobs, 0)
            arrivals.expected = {p.dokument_id for p in burst}
            sampler = None
            stacks = REPOSITORY / "bench" / "out" / "profile-worker.raw"
            if py_spy is not None:
                sampler = profile.record(py_spy, workers_started[0].pid, 20, stacks)
            load_before = os.getloadavg()[0]
            began = time.monotonic_ns()
            started = await enqueue_all(services, burst, None)
            enqueued_after = (time.monotonic_ns() - began) / 1e9
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrivals.complete.wait(), WAIT_SECONDS)
            last = max(arrivals.at_ns[d] for d in started if d in arrivals.at_ns)
            elapsed = (last - began) / 1e9
            results["throughput"] = {
                "jobs": jobs,
                "enqueued_after_s": round(enqueued_after, 2),
                "last_notification_after_s": round(elapsed, 2),
                "jobs_per_second": round(jobs / elapsed, 1),
                **latency_summary(started, arrivals),
                "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
            print(json.dumps(results["throughput"]), flush=True)
            if sampler is not None:
                sampler.wait(timeout=60)
                results["profile"] = profile.summarize(stacks)
                stacks.with_suffix(".txt").write_text(results["profile"] + "\n")
                print(results["profile"], flush=True)

            # 2. Latency below the limit.
            steady = await create_dokumente(services, owners, round(rate * seconds), jobs)
            arrivals.expected = {p.dokument_id for p in steady}
            arrivals.complete.clear()
            load_before = os.getloadavg()[0]
            started = await enqueue_all(services, steady, rate)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrivals.complete.wait(), WAIT_SECONDS)
            results["latency"] = {
                "rate_per_s": rate,
                "seconds": seconds,
                "jobs": len(steady),
                **latency_summary(started, arrivals),
                "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            }
            print(json.dumps(results["latency"]), flush=True)
        finally:
            for client in clients:
                await client.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="for the throughput run")
    parser.add_argument("--rate", type=float, default=20.0, help="jobs/s for the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="of the latency run")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--py-spy", type=Path, default=None, help="path of a py-spy binary")
    arguments = parser.parse_args()
    outcome = asyncio.run(
        main(
            arguments.jobs,
            arguments.rate,
            arguments.seconds,
            arguments.users,
            arguments.workers,
            arguments.py_spy,
        )
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(outcome, indent=2) + "\n")
