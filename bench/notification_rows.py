"""Where a notification-list read spends its time: ORM objects, plain rows, the pool pre-ping.

    uv run python -m bench.notification_rows --runs 500

Creates a fresh PostgreSQL database (BENCH_POSTGRES_URL, as bench/realtime_latency.py),
one user with 60 notifications, then reads the newest 50 and turns them into
`NotificationOut` payloads in three ways, alternating, and prints the median and p95 per
call in ms:

- "ORM entities": `select(Notification)`, what `NotificationService.recent` does;
- "plain rows": `select(<the columns NotificationOut reads>)`, no ORM objects;
- "no pre-ping": ORM entities on an engine without `pool_pre_ping`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from bench.system import create_database, drop_database
from sqlalchemy import select

from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Kanzlei, Notification, Severity, User
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.notifications.service import NotificationOut

LIMIT = 50
COLUMNS = (
    Notification.id, Notification.seq, Notification.type, Notification.title,
    Notification.message, Notification.link, Notification.severity, Notification.data,
    Notification.action, Notification.created_at, Notification.read_at,
)  # fmt: skip


async def _fill(db: Database) -> int:
    """One user with 60 notifications; returns the user's id."""
    async with db.session() as session:
        kanzlei = Kanzlei(name="Bench")
        session.add(kanzlei)
        await session.flush()
        user = User(
            kanzlei_id=kanzlei.id,
            email="b@bench.example",
            name="B",
            password_hash="-",
            role=Role.ANWALT,
            aktiv=True,
            notification_seq=60,
        )
        session.add(user)
        await session.flush()
        for n in range(1, 61):
            session.add(
                Notification(
                    user_id=user.id,
                    seq=n,
                    type="system.info",
                    title=f"Titel {n}",
                    message="Nachricht " * 10,
                    severity=Severity.INFO,
                    data={"akteId": n},
                )
            )
        await session.commit()
        return user.id


async def main(runs: int) -> None:
    name, url = await create_database()
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        unpinged = Database(url, pool_pre_ping=False)
        user_id = await _fill(db)
        visible = (Notification.user_id == user_id, Notification.dismissed_at.is_(None))
        newest = (Notification.seq.desc(),)

        def entities(database: Database) -> Callable[[], Awaitable[None]]:
            async def read() -> None:
                async with database.session() as session:
                    query = select(Notification).where(*visible).order_by(*newest).limit(LIMIT)
                    rows = (await session.scalars(query)).all()
                [NotificationOut.from_row(row).as_payload() for row in rows]

            return read

        async def plain_rows() -> None:
            async with db.session() as session:
                query = select(*COLUMNS).where(*visible).order_by(*newest).limit(LIMIT)
                rows = (await session.execute(query)).all()
            [NotificationOut.from_row(row).as_payload() for row in rows]  # type: ignore[arg-type]

        ways = {
            "ORM entities": entities(db),
            "plain rows": plain_rows,
            "no pre-ping": entities(unpinged),
        }
        times: dict[str, list[float]] = {label: [] for label in ways}
        for _ in range(runs):
            for label, read in ways.items():
                started = time.perf_counter()
                await read()
                times[label].append((time.perf_counter() - started) * 1000)
        for label, values in times.items():
            values.sort()
            p95 = values[int(0.95 * len(values)) - 1]
            print(f"{label:<13} median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms")
        await db.dispose()
        await unpinged.dispose()
    finally:
        await drop_database(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    asyncio.run(main(parser.parse_args().runs))
