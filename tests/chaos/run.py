"""One chaos run: start the system, connect the tabs, load and break it, drain, check, report."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import insert, select
from tests.chaos.browser import BrowserTab
from tests.chaos.checks import (
    ChaosReport,
    check_jobs,
    check_notifications,
    check_processes,
    progress,
)
from tests.chaos.faults import FaultInjector
from tests.chaos.load import CSRF_COOKIE, LoadGenerator, Person
from tests.chaos.system import ChaosSystem

from ailawyer.db.models import Akte, Kanzlei, User
from ailawyer.domain.roles import Role
from ailawyer.services import Services

# Shares of the tabs' users by role; ADMINs receive every failure's technical message.
ROLE_SHARES = ((Role.ADMIN, 0.1), (Role.SEKRETARIAT, 0.1), (Role.SACHBEARBEITER, 0.2))
CONNECT_CONCURRENCY = 20
# Longest fault action (a worker's grace period, an app start) plus its recovery.
STOP_TIMEOUT_SECONDS = 60.0
SETTLE_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class ChaosConfig:
    seconds: float
    seed: int
    clients: int = 200
    # Modest: two cores shared with other test runs, and every PDF is read in a child
    # process; a load above what the workers finish only grows a backlog to drain.
    uploads_per_second: float = 1.0
    test_jobs_per_second: float = 0.4
    fault_gap_seconds: tuple[float, float] = (2.0, 5.0)
    recovery_bound_seconds: float = 30.0
    # No job finished for this long: the rest is stuck. Longer than any legitimate pause
    # (a retry after 4 s, a killed worker's lock expiring after 3 s, a run of a few s).
    drain_stall_seconds: float = 30.0
    drain_cap_seconds: float = 300.0


async def create_people(services: Services, count: int) -> list[Person]:
    """`count` users of one Kanzlei with sessions; ANWALT and SACHBEARBEITER get an Akte each."""
    roles: list[Role] = []
    for role, share in ROLE_SHARES:
        roles += [role] * max(1, round(count * share))
    roles += [Role.ANWALT] * (count - len(roles))
    async with services.db.session() as db:
        kanzlei = Kanzlei(name="Chaos-Kanzlei")
        db.add(kanzlei)
        await db.flush()
        await db.execute(
            insert(User),
            [
                {
                    "kanzlei_id": kanzlei.id,
                    "email": f"nutzer{n}@chaos.example",
                    "name": f"Nutzer {n}",
                    # Never checked: sessions are created directly, nobody logs in.
                    "password_hash": "-",
                    "role": role,
                    "aktiv": True,
                    # One firm, as `ailawyer demo` sets it up: its ADMINs also run the
                    # machine, so they may start the test jobs of the load.
                    "is_operator": role is Role.ADMIN,
                    "notification_seq": 0,
                }
                for n, role in enumerate(roles)
            ],
        )
        users = list((await db.execute(select(User.id, User.role).order_by(User.id))).all())
        own: dict[int, int] = {}
        for number, (user_id, role) in enumerate(users):
            if role in (Role.ANWALT, Role.SACHBEARBEITER):
                field = "anwalt_id" if role is Role.ANWALT else "sachbearbeiter_id"
                akte = Akte(
                    kanzlei_id=kanzlei.id,
                    aktenzeichen=f"{number + 1}/26",
                    kurzrubrum=f"Sache {number + 1}",
                    **{field: user_id},
                )
                db.add(akte)
                await db.flush()
                own[user_id] = akte.id
        await db.commit()
    every_akte = tuple(own.values())
    return [
        Person(
            user_id=user_id,
            token=await services.sessions.create(user_id, ip=None, user_agent="chaos"),
            is_admin=role is Role.ADMIN,
            akten=(own[user_id],) if user_id in own else every_akte,
        )
        for user_id, role in users
    ]


async def _csrf_token(app_url: str) -> str:
    """A CSRF token (cookie and form value alike) from the login page, seen without cookies."""
    async with httpx.AsyncClient(timeout=10.0) as fresh:
        response = await fresh.get(f"{app_url}/anmelden")
    return response.cookies[CSRF_COOKIE]


async def _open_tabs(
    people: list[Person], system: ChaosSystem, http: httpx.AsyncClient, seed: int
) -> list[BrowserTab]:
    tabs = [
        BrowserTab(p.user_id, p.token, system.app_url(n % len(system.app_ports)), http, seed + n)
        for n, p in enumerate(people)
    ]
    slots = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one(tab: BrowserTab) -> None:
        async with slots:
            await tab.open()

    await asyncio.gather(*(open_one(tab) for tab in tabs))
    return tabs


async def _drain(system: ChaosSystem, config: ChaosConfig) -> float:
    """Wait until no job is left to run, or none has finished for a while; returns the time.

    A backlog (the machine slower than the load) still drains; jobs that no worker
    finishes any more are what the checks then report as lost.
    """
    began = last_progress = time.monotonic()
    finished_before = -1
    while True:
        now = time.monotonic()
        with contextlib.suppress(Exception):
            unfinished, finished = await progress(system)
            if unfinished == 0:
                break
            if finished != finished_before:
                finished_before, last_progress = finished, now
        if (
            now - last_progress > config.drain_stall_seconds
            or now - began > config.drain_cap_seconds
        ):
            break
        await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - began


async def _settle(tabs: list[BrowserTab]) -> None:
    """Wait (bounded) until every tab is connected and no catch-up is running."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if all(tab.connected and tab.idle() for tab in tabs):
            return
        await asyncio.sleep(POLL_SECONDS)


async def run_chaos(config: ChaosConfig, root: Path) -> ChaosReport:
    """Run the whole scenario once; raises only if the system cannot even be started."""
    rng = random.Random(config.seed)
    print(f"[chaos] seed {config.seed} (CHAOS_SEED={config.seed} repeats this run)", flush=True)
    system = ChaosSystem(root, random.Random(rng.random()))
    tabs: list[BrowserTab] = []
    http = httpx.AsyncClient(
        timeout=10.0, limits=httpx.Limits(max_connections=300, max_keepalive_connections=100)
    )
    try:
        await system.start()
        print(f"[chaos] PostgreSQL: {system.postgres_mode}", flush=True)
        people = await create_people(system.services, config.clients)
        admins = [p.user_id for p in people if p.is_admin]
        tabs = await _open_tabs(people, system, http, config.seed)
        print(f"[chaos] {len(tabs)} tabs connected; {config.seconds:.0f} s of load", flush=True)
        load = LoadGenerator(
            people,
            [system.app_url(n) for n in range(len(system.app_ports))],
            http,
            await _csrf_token(system.app_url(0)),
            random.Random(rng.random()),
        )
        injector = FaultInjector(
            system,
            random.Random(rng.random()),
            config.recovery_bound_seconds,
            config.fault_gap_seconds,
        )
        started = time.monotonic()
        running = [
            asyncio.ensure_future(load.run(config.uploads_per_second, config.test_jobs_per_second)),
            asyncio.ensure_future(injector.run(started)),
        ]
        while time.monotonic() - started < config.seconds:
            system.check_for_crashes()
            await asyncio.sleep(POLL_SECONDS)
        load.stop()
        injector.stop()
        await asyncio.wait_for(asyncio.gather(*running), STOP_TIMEOUT_SECONDS)
        print("[chaos] load stopped; draining the queues", flush=True)
        drained = await _drain(system, config)
        await _settle(tabs)
        await asyncio.gather(*(tab.sweep() for tab in tabs))
        jobs, owed = await check_jobs(system, load.record, admins)
        notifications = await check_notifications(system, owed, tabs)
    finally:
        for tab in tabs:
            with contextlib.suppress(Exception):
                await tab.close()
        await http.aclose()
        await system.stop()
    return ChaosReport(
        seed=config.seed,
        seconds=config.seconds,
        clients=config.clients,
        postgres=system.postgres_mode,
        faults=injector.faults,
        load=dict(load.record.outcomes),
        jobs=jobs,
        notifications=notifications,
        processes=check_processes(system, injector.faults, jobs),
        drain_seconds=round(drained, 1),
        recovery_bound_seconds=config.recovery_bound_seconds,
    )
