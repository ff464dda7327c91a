"""`ailawyer worker`: the background process; until the job system lands it keeps a heartbeat."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
import uuid

from ailawyer.config import Settings
from ailawyer.logs import get_logger
from ailawyer.services import Services

log = get_logger("ailawyer.worker")


async def run_worker(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, sending heartbeats to Redis; returns after a clean shutdown."""
    services = Services.create(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    info = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "startedAt": time.time(),
        "queues": {},
    }
    log.info("worker started", workerId=worker_id)
    try:
        while not stop.is_set():
            try:
                await services.workers.beat(worker_id, info)
            except Exception as error:  # Redis away: keep running, it comes back
                log.warning("heartbeat failed", error=str(error))
            try:
                await asyncio.wait_for(stop.wait(), settings.worker_heartbeat_seconds)
            except TimeoutError:
                log.debug("worker idle")
    finally:
        log.info("worker stopping", workerId=worker_id)
        try:
            await services.workers.remove(worker_id)
        except Exception as error:  # leaving the heartbeat to expire is fine
            log.warning("could not remove heartbeat", error=str(error))
        await services.close()
        log.info("worker stopped", workerId=worker_id)
