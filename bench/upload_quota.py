"""What the Kanzlei storage check costs an upload as the Kanzlei's Dokumente grow.

    uv run python -m bench.upload_quota --sizes 0 10000 100000 --runs 200

In a fresh PostgreSQL database (bench_system), one Kanzlei gets `size` Dokumente spread over
100 Akten; then `runs` times the transaction an upload records its rows in
(`ailawyer.dokumente.upload._record`): lock the Kanzlei row, insert one Dokument, sum the
Kanzlei's sizes, decide, and here roll back so the size stays. Prints p50/p95/max in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from bench.system import BenchSystem, bench_system
from sqlalchemy import insert

from ailawyer.db.models import Akte, Dokument, DokumentStatus, Kanzlei
from ailawyer.dokumente.upload_limits import check_quota, lock_kanzlei_storage, used_bytes

AKTEN = 100
BATCH = 5000


async def grow(system: BenchSystem, akten: list[int], have: int, want: int) -> None:
    """Insert Dokumente until the Kanzlei has `want` of them."""
    db = system.services.db
    for start in range(have, want, BATCH):
        rows = [
            {
                "akte_id": akten[n % len(akten)],
                "dateiname": f"{n}.pdf",
                "storage_key": f"{uuid.uuid4().hex}.pdf",
                "size_bytes": 100_000,
                "sha256": "0" * 64,
                "status": DokumentStatus.ABGESCHLOSSEN,
            }
            for n in range(start, min(start + BATCH, want))
        ]
        async with db.session() as session:
            await session.execute(insert(Dokument), rows)
            await session.commit()
    async with db.engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE dokument")


async def one_check(system: BenchSystem, kanzlei_id: int, akte_id: int) -> float:
    services = system.services
    started = time.perf_counter()
    async with services.db.session() as session:
        await lock_kanzlei_storage(session, kanzlei_id)
        session.add(
            Dokument(
                akte_id=akte_id,
                dateiname="neu.pdf",
                storage_key=f"{uuid.uuid4().hex}.pdf",
                size_bytes=100_000,
                sha256="0" * 64,
                status=DokumentStatus.AUSSTEHEND,
            )
        )
        await session.flush()
        check_quota(services.runtime_settings, await used_bytes(session, kanzlei_id) - 100_000, 0)
        await session.rollback()
    return (time.perf_counter() - started) * 1000


async def main(sizes: list[int], runs: int) -> None:
    async with bench_system("ailawyer-bench-quota-") as system:
        db = system.services.db
        async with db.session() as session:
            kanzlei = Kanzlei(name="Kanzlei Bench")
            session.add(kanzlei)
            await session.flush()
            akten = [
                Akte(kanzlei_id=kanzlei.id, aktenzeichen=f"{n}/26", kurzrubrum=f"Akte {n}")
                for n in range(AKTEN)
            ]
            session.add_all(akten)
            await session.commit()
        akte_ids = [akte.id for akte in akten]
        have = 0
        print("| Dokumente of the Kanzlei | p50 ms | p95 ms | max ms |")
        print("|---|---|---|---|")
        for size in sorted(sizes):
            await grow(system, akte_ids, have, size)
            have = size
            for _ in range(10):  # warm the connection pool and caches
                await one_check(system, kanzlei.id, akte_ids[0])
            times = sorted([await one_check(system, kanzlei.id, akte_ids[0]) for _ in range(runs)])
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"| {size:,} | {statistics.median(times):.2f} | {p95:.2f} | {times[-1]:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.sizes, arguments.runs))
