"""What one room access pass of an app process costs (app/realtime/room_access.py).

    uv run python -m bench.room_access --sockets 2000 --runs 50

Creates a fresh PostgreSQL database (BENCH_POSTGRES_URL, as bench/notification_rows.py)
with one Kanzlei, a user per socket (a quarter of them SEKRETARIAT, the rest ANWALT) and
an Akte per socket; every socket is in its Akte's room. Then times `current_standing` for
all sockets, as the socket server runs it every ACCESS_RECHECK_SECONDS, and prints the
median and p95 per pass in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench.system import create_database, drop_database
from sqlalchemy import insert, select

from ailawyer.app.realtime.room_access import current_standing
from ailawyer.app.realtime.server import ACCESS_RECHECK_SECONDS
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Akte, Kanzlei, User
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role


async def _fill(db: Database, count: int) -> dict[str, tuple[int, frozenset[int]]]:
    async with db.session() as session:
        kanzlei = Kanzlei(name="Kanzlei Bench")
        session.add(kanzlei)
        await session.flush()
        await session.execute(
            insert(User),
            [
                {
                    "kanzlei_id": kanzlei.id,
                    "email": f"user{n}@bench.example",
                    "name": f"User {n}",
                    "password_hash": "-",
                    "role": Role.SEKRETARIAT if n % 4 == 0 else Role.ANWALT,
                }
                for n in range(count)
            ],
        )
        user_ids = list(await session.scalars(select(User.id).order_by(User.id)))
        await session.execute(
            insert(Akte),
            [
                {
                    "kanzlei_id": kanzlei.id,
                    "aktenzeichen": f"{n}/26",
                    "kurzrubrum": f"Bench {n}",
                    "anwalt_id": user_id,
                }
                for n, user_id in enumerate(user_ids)
            ],
        )
        akte_ids = list(await session.scalars(select(Akte.id).order_by(Akte.id)))
        await session.commit()
    return {
        f"sid{n}": (user_id, frozenset({akte_id}))
        for n, (user_id, akte_id) in enumerate(zip(user_ids, akte_ids, strict=True))
    }


async def main(sockets: int, runs: int) -> None:
    name, url = await create_database()
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        try:
            by_sid = await _fill(db, sockets)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                async with db.session() as session:
                    standings = await current_standing(session, by_sid)
                times.append((time.perf_counter() - started) * 1000)
            assert not any(s.forbidden_akten for s in standings.values())
        finally:
            await db.engine.dispose()
    finally:
        await drop_database(name)
    p95 = statistics.quantiles(times, n=20)[-1]
    print(
        f"{sockets} sockets, {runs} passes: median {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms per pass (one pass every {ACCESS_RECHECK_SECONDS:g} s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=50)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.sockets, arguments.runs))
