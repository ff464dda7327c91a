"""`ailawyer worker`: runs every declared queue until SIGTERM/SIGINT, then stops gracefully.

Start: services, runtime settings (with live log level and concurrency), one bullmq
Worker per queue, heartbeats, and the keeper of the maintenance schedules, which also
repairs what a Redis that lost data lost (`ailawyer.worker.maintenance`). Stop: see
`WorkerPool.stop` and `StopSignals`; the process exits 0 after a requested stop, also
when jobs had to be left to stalled-job recovery.
"""

from __future__ import annotations

import asyncio
from functools import partial

from ailawyer.alerts.loop import alerts_running
from ailawyer.config import Settings
from ailawyer.logs import get_logger, logging_degraded
from ailawyer.process_registry import new_process_id
from ailawyer.runtime_settings.process import follow_runtime_settings
from ailawyer.services import Services
from ailawyer.worker import dead_workers
from ailawyer.worker.maintenance import keep_maintenance
from ailawyer.worker.pool import WorkerPool
from ailawyer.worker.shutdown import StopSignals

log = get_logger("ailawyer.worker")


async def run_worker(settings: Settings) -> None:
    """Run until stopped by a signal; returns after a clean shutdown."""
    signals = StopSignals()
    signals.install(asyncio.get_running_loop())
    services = Services.create(settings)
    worker_id = new_process_id()
    pool = WorkerPool(services, worker_id)
    heartbeat: asyncio.Task[None] | None = None
    maintenance: asyncio.Task[None] | None = None
    watch: asyncio.Task[None] | None = None
    try:
        await follow_runtime_settings(services.runtime_settings)
        await pool.start()
        # Heartbeats for /api/health and the admin pages, also while stopping; they name
        # the pool's lock owners for the workers that may outlive it.
        heartbeat = asyncio.create_task(
            services.workers.beat_forever(worker_id, partial(dead_workers.heartbeat_info, pool))
        )
        maintenance = asyncio.create_task(keep_maintenance(services))
        watch = asyncio.create_task(
            dead_workers.watch_dead_workers(pool, services.workers, worker_id)
        )
        log.info("worker started", workerId=worker_id)
        # Alerts from every process: they must not depend on a worker, nor on the app.
        async with alerts_running(services, worker_id, "worker", logging_degraded):
            await signals.stop.wait()
        # It uses the pool's Redis clients, which the stop closes.
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        finished = await pool.stop(settings.shutdown_grace_seconds, signals.force)
        log.info("worker stopped", workerId=worker_id, allJobsFinished=finished)
    finally:
        for task in (heartbeat, maintenance, watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        try:
            await services.workers.remove(worker_id)
        except Exception as error:  # leaving the heartbeat to expire is fine
            log.warning("could not remove heartbeat", error=str(error))
        await services.close()
