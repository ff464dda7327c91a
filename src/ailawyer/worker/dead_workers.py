"""The jobs of a worker process that died run again within about a second, not a lock later.

bullmq frees a job only when its lock expires (`JOB_LOCK_SECONDS`, renewed while the job
runs) and a later stalled check sees it: a SIGKILLed worker's job waited up to lock +
stalled interval (15 s + 5 s). The lock must stay long: it is the only thing that keeps a
job of a live but slow worker (an event loop blocked by a long synchronous step, a GC
pause, a paused container, a slow Redis) from running twice. So instead of a shorter lock,
every worker process looks for proof of death:

- Each worker's heartbeat names its bullmq Workers' lock owners (`lockOwners`, per queue)
  and its pid space (`process_registry.pid_space`).
- Every `CHECK_SECONDS`, each worker reads the fresh heartbeats; a process in its own pid
  space whose pid no longer runs (or is a zombie) is dead for certain
  (`process_registry.known_dead`). Its locks are freed and its jobs moved back to waiting
  by bullmq's own stalled check (`bullmq_adapter.requeue_jobs_of`): each counts one stall,
  as after an expired lock, so `JOB_MAX_STALLED_COUNT` and the failure wording stay.
- A worker that starts runs bullmq's stalled check at once (bullmq's first one comes an
  interval late), and its first look finds a killed predecessor of the same pid namespace.

A process that only stopped beating (paused, blocked, cut off from Redis) or ran in another
pid namespace (another machine or container; a restarted container gets a new one) is never
known dead: its jobs keep their locks and come back after lock + stalled interval, as
before. Several workers may free the same locks at once; the script frees each lock once
and bullmq's check moves each job once.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ailawyer.jobs.bullmq_adapter import lock_owner, requeue_jobs_of
from ailawyer.logs import get_logger
from ailawyer.process_registry import ProcessRegistry, known_dead

if TYPE_CHECKING:
    from ailawyer.worker.pool import WorkerPool

log = get_logger("ailawyer.worker")

# How often a worker looks for dead ones: two cheap Redis reads (the heartbeat index and
# records) and a /proc read per process of this pid space. Bounds the recovery on a host.
CHECK_SECONDS = 1.0
# The heartbeat field naming the lock owners of a worker's bullmq Workers, by queue.
LOCK_OWNERS = "lockOwners"


def heartbeat_info(pool: WorkerPool) -> dict[str, Any]:
    """The pool's heartbeat, plus whose locks its jobs hold (for the peers that outlive it)."""
    owners = {runner.binding.name: lock_owner(runner.worker) for runner in pool.runners}
    return {**pool.heartbeat_info(), LOCK_OWNERS: owners}


async def requeue_jobs_of_dead_workers(
    pool: WorkerPool, registry: ProcessRegistry, own_id: str, done: set[str]
) -> int:
    """Move the jobs of every worker known dead back to waiting; returns how many.

    `done` holds the process ids already handled (a dead process takes no new job); ids
    whose heartbeats are gone leave it.
    """
    records = await registry.alive()
    done.intersection_update(str(record.get("id")) for record in records)
    requeued = 0
    for record in records:
        process_id = str(record.get("id"))
        if process_id == own_id or process_id in done or not known_dead(record):
            continue
        owners: dict[str, str] = record.get(LOCK_OWNERS) or {}
        for runner in pool.runners:
            owner = owners.get(runner.binding.name)
            if owner is None:
                continue
            freed = await requeue_jobs_of(runner.client, runner.worker, [owner])
            if freed:
                log.warning(
                    "jobs of a dead worker moved back to waiting",
                    deadWorker=process_id,
                    queue=runner.binding.name,
                    jobs=freed,
                )
            requeued += freed
        done.add(process_id)
    return requeued


async def watch_dead_workers(pool: WorkerPool, registry: ProcessRegistry, own_id: str) -> None:
    """Run bullmq's stalled check once per queue, then look for dead workers every
    `CHECK_SECONDS` until cancelled; a failed look is logged, never fatal."""
    for runner in pool.runners:
        await runner.worker.runStalledJobsCheck()  # reports its own errors as "error" events
    done: set[str] = set()
    while True:
        try:
            await requeue_jobs_of_dead_workers(pool, registry, own_id, done)
        except Exception as error:  # Redis away: the next look tries again
            log.warning("looking for dead workers failed", error=str(error))
        await asyncio.sleep(CHECK_SECONDS)
