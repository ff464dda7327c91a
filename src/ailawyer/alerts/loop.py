"""The alert loop every app and worker process runs; one of them evaluates per tick.

Each tick (ALERT_INTERVAL_SECONDS) a process
1. puts its own facts (disks, logging) on the board (`process_facts`), and
2. tries to take the installation's lease, `<prefix>:alerts:lease` (SET NX with an expiry
   a little under one interval). The process that got it evaluates every check, brings
   the incidents in line (`IncidentStore.reconcile`) and announces what started or ended.

So alerts need no particular process, least of all a worker (a dead worker is one of the
incidents), and run once per installation and tick however many processes there are. The
lease only saves work: each start and end is claimed in Redis by one evaluator, so even
two evaluators at once (a tick slower than the lease) announce it once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ailawyer.alerts.announce import announce
from ailawyer.alerts.checks import CHECKS, Readings
from ailawyer.alerts.incidents import IncidentStore, Transition
from ailawyer.alerts.process_facts import ProcessFactsBoard, local_facts
from ailawyer.logs import get_logger

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger(__name__)

# A process that missed this many ticks has ended: its facts no longer count.
STALE_TICKS = 3
# The lease runs out a little before the holder's next tick, so that tick can take it again.
LEASE_FRACTION = 0.9


class AlertLoop:
    """One process's part in the alerts."""

    def __init__(
        self,
        services: Services,
        process_id: str,
        kind: str,
        logging_degraded: Callable[[], bool],
    ) -> None:
        self.services = services
        self.process_id = process_id
        self.kind = kind
        self.logging_degraded = logging_degraded
        settings = services.settings
        prefix = settings.redis_key_prefix
        self.interval = settings.alert_interval_seconds
        self.board = ProcessFactsBoard(services.redis, prefix)
        self.incidents = IncidentStore(services.redis, prefix)
        self._lease = f"{prefix}:alerts:lease"

    async def tick(self) -> list[Transition]:
        """Report this process's facts; evaluate if this process holds the tick's lease.
        Returns what this call announced."""
        facts = await asyncio.to_thread(
            # statvfs of a network file system can block for a while.
            local_facts,
            self.services.settings,
            self.process_id,
            self.kind,
            self.logging_degraded,
        )
        await self.board.put(facts)
        lease_ms = max(1, round(self.interval * LEASE_FRACTION * 1000))
        if not await self.services.redis.set(self._lease, self.process_id, nx=True, px=lease_ms):
            return []
        return await self.evaluate(time.time())

    async def evaluate(self, now: float) -> list[Transition]:
        """Run every check, reconcile the incidents, announce each transition this call
        claimed; one failing check leaves its incidents as they are."""
        services = self.services
        readings = Readings(
            redis=services.redis,
            jobs=services.jobs,
            workers=services.workers,
            runtime=services.runtime_settings,
            metrics_prefix=services.settings.redis_key_prefix,
            processes=await self.board.current(now, self.interval * STALE_TICKS),
            now=now,
        )
        announced = []
        for name, check in CHECKS.items():
            try:
                findings = await check(readings)
            except Exception as error:
                log.warning("alert check failed; its incidents stay", check=name, error=repr(error))
                continue
            for transition in await self.incidents.reconcile(name, findings, now):
                if await self._announce(transition):
                    announced.append(transition)
        return announced

    async def _announce(self, transition: Transition) -> bool:
        incident = transition.incident
        try:
            told = await announce(self.services.db, self.services.notifications, transition)
        except Exception as error:
            # Unclaimed again: the next evaluation finds it and tries once more.
            await self.incidents.undo(transition)
            log.warning(
                "incident not announced; trying again",
                incident=incident.key,
                transition=transition.kind,
                error=repr(error),
            )
            return False
        level = log.warning if transition.kind == "opened" else log.info
        level(
            f"incident {transition.kind}",
            incident=incident.key,
            title=incident.title,
            operators=told,
        )
        return True

    async def run(self) -> None:
        """Tick every interval until cancelled; a failed tick is logged, never fatal."""
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except Exception as error:  # Redis or the database away: the next tick tries again
                log.warning("alert tick failed", error=repr(error))
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))


@asynccontextmanager
async def alerts_running(
    services: Services, process_id: str, kind: str, logging_degraded: Callable[[], bool]
) -> AsyncIterator[AlertLoop]:
    """Run this process's alert loop while the block runs; take its facts off the board
    after."""
    loop = AlertLoop(services, process_id, kind, logging_degraded)
    task = asyncio.create_task(loop.run(), name="alerts")
    try:
        yield loop
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await loop.board.remove(process_id)
        except Exception as error:  # its facts go stale by themselves
            log.warning("could not remove alert facts", error=repr(error))
