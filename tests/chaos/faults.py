"""Faults, injected one after another in a seeded random order, each timed until recovery.

Recovery is the time from the fault's first action (the signal, the SHUTDOWN) until the
system is back at full strength: every app process answers `/api/health` "healthy" and
every running worker sends heartbeats (a replacement process counts once it does).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from tests.chaos.system import ChaosSystem, Managed

WORKER_KILL = "worker SIGKILL + new worker"
WORKER_TERM = "worker SIGTERM + new worker"
APP_KILL = "app SIGKILL + new app"
REDIS_RESTART = "Redis restart"
POSTGRES_RESTART = "PostgreSQL restart"
KINDS = (WORKER_KILL, WORKER_TERM, APP_KILL, REDIS_RESTART, POSTGRES_RESTART)
HEALTH_POLL_SECONDS = 0.1


@dataclass
class Fault:
    kind: str
    at_seconds: float  # since the load started
    target: str = ""
    # None: not back to full health within the bound.
    recovery_seconds: float | None = None
    # What was still missing last before recovery (the slowest part of it).
    waited_for: str = ""
    problem: str = ""
    # Wall-clock window (epoch seconds) from the first action to recovery, for the logs.
    began_at: float = 0.0
    ended_at: float = 0.0


@dataclass
class FaultInjector:
    system: ChaosSystem
    rng: random.Random
    recovery_bound_seconds: float
    gap_seconds: tuple[float, float]
    faults: list[Fault] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _bag: list[str] = field(default_factory=list)
    _stopping: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def kinds(self) -> tuple[str, ...]:
        if self.system.cluster is None:  # the shared server belongs to everyone
            return tuple(kind for kind in KINDS if kind != POSTGRES_RESTART)
        return KINDS

    def stop(self) -> None:
        """Finish the fault in progress (and its recovery), then return from run()."""
        self._stop.set()

    async def run(self, started: float) -> None:
        """Inject until stop(); returns once every SIGTERMed worker has exited."""
        async with httpx.AsyncClient(timeout=2.0) as http:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), self.rng.uniform(*self.gap_seconds))
                    break
                except TimeoutError:
                    pass
                fault = Fault(self._next_kind(), round(time.monotonic() - started, 1))
                self.faults.append(fault)
                print(f"[chaos] t={fault.at_seconds:6.1f}s  {fault.kind}", flush=True)
                await self._inject(fault, http)
        await asyncio.gather(*self._stopping)

    def _next_kind(self) -> str:
        # A shuffled bag: every kind comes up equally often, in a random order.
        if not self._bag:
            self._bag = list(self.kinds)
            self.rng.shuffle(self._bag)
        return self._bag.pop()

    async def _inject(self, fault: Fault, http: httpx.AsyncClient) -> None:
        actions: dict[str, Callable[[Fault], Awaitable[None]]] = {
            WORKER_KILL: self._worker_kill,
            WORKER_TERM: self._worker_term,
            APP_KILL: self._app_kill,
            REDIS_RESTART: self._redis_restart,
            POSTGRES_RESTART: self._postgres_restart,
        }
        began = time.monotonic()
        fault.began_at = time.time()
        try:
            await actions[fault.kind](fault)
        except Exception as error:
            fault.problem = f"{type(error).__name__}: {error}"[:500]
        deadline = began + self.recovery_bound_seconds
        while time.monotonic() < deadline:
            missing = await self.system.missing_for_health(http)
            if missing is None:
                fault.recovery_seconds = round(time.monotonic() - began, 2)
                break
            fault.waited_for = missing
            await asyncio.sleep(HEALTH_POLL_SECONDS)
        else:
            fault.problem = fault.problem or f"not healthy within the bound: {fault.waited_for}"
        fault.ended_at = time.time()
        print(
            f"[chaos]           recovered after {fault.recovery_seconds} s"
            + (f" (last waited for {fault.waited_for})" if fault.waited_for else ""),
            flush=True,
        )

    async def _worker_kill(self, fault: Fault) -> None:
        victim = self.system.pick("worker")
        fault.target = victim.name
        await self.system.kill(victim)
        await self.system.start_worker()

    async def _worker_term(self, fault: Fault) -> None:
        victim = self.system.pick("worker")
        fault.target = victim.name
        # The victim finishes its jobs (up to the grace period) while the replacement
        # starts; recovery is the replacement's first heartbeat. Its exit code is checked
        # with every process's at the end.
        self._stopping.append(asyncio.ensure_future(self.system.terminate(victim)))
        await self.system.start_worker()

    async def _app_kill(self, fault: Fault) -> None:
        victim: Managed = self.system.pick("app")
        fault.target = victim.name
        await self.system.kill(victim)
        assert victim.port is not None
        # Same port: its clients reconnect to where their page came from.
        await self.system.start_app(victim.port)

    async def _redis_restart(self, fault: Fault) -> None:
        fault.target = f"redis-server :{self.system.redis.port}"
        await self.system.restart_redis()

    async def _postgres_restart(self, fault: Fault) -> None:
        assert self.system.cluster is not None
        fault.target = f"postgres :{self.system.cluster.port}"
        await self.system.restart_postgres()
