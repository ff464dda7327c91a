"""What counts as an incident: one check per kind of trouble, each reading current figures.

A check returns the conditions that hold now (`Finding`s, German texts for the operator);
`IncidentStore.reconcile` turns them into starts and ends. Every threshold is a runtime
setting (`runtime_settings/definitions.py`, category "Warnmeldungen"). A check that cannot
read its figures raises: its incidents then stay as they are until it can again.

Figures come from the modules that own them: live workers from their heartbeats
(`process_registry`), waiting jobs from the bullmq adapter, finished jobs from the job
metrics the workers write (`jobs/metrics.py`), Redis from `system_facts`, disks and
logging from every process's own report (`process_facts`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from ailawyer.alerts.incidents import Finding
from ailawyer.alerts.process_facts import ProcessFacts
from ailawyer.db.models import Severity
from ailawyer.jobs.bullmq_adapter import read_waiting
from ailawyer.jobs.catalog import QUEUES
from ailawyer.jobs.metrics import count_recent
from ailawyer.jobs.queues import JobQueues
from ailawyer.process_registry import ProcessRegistry
from ailawyer.runtime_settings.definitions import (
    ALERT_BACKLOG_SECONDS,
    ALERT_DISK_FREE_PERCENT,
    ALERT_FAILED_JOBS,
    ALERT_REDIS_MEMORY_PERCENT,
    ALERT_WORKER_MISSING_SECONDS,
    FAILED_JOBS_WINDOW_MINUTES,
)
from ailawyer.runtime_settings.service import RuntimeSettings
from ailawyer.system_facts import read_redis_facts


@dataclass(frozen=True)
class Readings:
    """Where the checks read from. `processes`: every live process's own facts, read once
    per evaluation."""

    redis: Redis
    jobs: JobQueues
    workers: ProcessRegistry
    runtime: RuntimeSettings
    metrics_prefix: str
    processes: list[ProcessFacts]
    now: float


Check = Callable[[Readings], Awaitable[list[Finding]]]


def seconds_de(seconds: float) -> str:
    """A duration for the operator's texts: "45 Sekunden", "7 Minuten", "3 Stunden"."""
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole} Sekunden"
    if whole < 2 * 3600:
        return f"{whole // 60} Minuten"
    return f"{whole // 3600} Stunden"


async def workers(readings: Readings) -> list[Finding]:
    """A declared queue that no live worker runs, for the configured time (default 60 s)."""
    served = {name for record in await readings.workers.alive() for name in record["queues"]}
    missing = [name for name in QUEUES if name not in served]
    if not missing:
        return []
    return [
        Finding(
            key="workers",
            title="Kein Worker für " + ", ".join(missing),
            detail="Kein laufender Worker bearbeitet die Warteschlangen "
            + ", ".join(f"„{name}“" for name in missing)
            + ": hochgeladene Dokumente und Wartungsaufgaben bleiben liegen. "
            "Starten Sie einen Worker („ailawyer worker“).",
            severity=Severity.ERROR,
            hold_seconds=readings.runtime.get(ALERT_WORKER_MISSING_SECONDS),
        )
    ]


async def backlog(readings: Readings) -> list[Finding]:
    """A declared queue whose longest-waiting job waits longer than the threshold."""
    limit = readings.runtime.get(ALERT_BACKLOG_SECONDS)
    findings = []
    for name in QUEUES:
        found = await read_waiting(readings.redis, readings.jobs.prefix, name)
        if found.oldest_since is None:
            continue
        age = readings.now - found.oldest_since
        if age > limit:
            findings.append(
                Finding(
                    key=f"backlog:{name}",
                    title=f"Rückstand in der Warteschlange „{name}“",
                    detail=f"{found.count} Vorgänge warten, der älteste seit {seconds_de(age)} "
                    f"(Grenze: {seconds_de(limit)}). Die Worker kommen nicht nach oder "
                    "laufen nicht.",
                )
            )
    return findings


async def failures(readings: Readings) -> list[Finding]:
    """More jobs failed for good in the last 15 minutes than the threshold, all queues."""
    limit = readings.runtime.get(ALERT_FAILED_JOBS)
    per_queue = await count_recent(
        readings.redis,
        readings.metrics_prefix,
        list(QUEUES),
        "failed",
        readings.now,
        FAILED_JOBS_WINDOW_MINUTES,
    )
    total = sum(per_queue.values())
    if total <= limit:
        return []
    where = ", ".join(f"{name}: {count}" for name, count in per_queue.items() if count)
    return [
        Finding(
            key="failures",
            title="Viele fehlgeschlagene Vorgänge",
            detail=f"{total} Vorgänge sind in den letzten {FAILED_JOBS_WINDOW_MINUTES} Minuten "
            f"endgültig fehlgeschlagen (Grenze: {limit}; {where}). Details im Job-Explorer.",
            severity=Severity.ERROR,
        )
    ]


async def redis(readings: Readings) -> list[Finding]:
    """Redis near its memory limit, without AOF, or with a policy that evicts keys."""
    facts = await read_redis_facts(readings.redis)
    findings = []
    limit = readings.runtime.get(ALERT_REDIS_MEMORY_PERCENT)
    fraction = facts.memory_fraction
    if fraction is not None and fraction * 100 > limit:
        findings.append(
            Finding(
                key="redis-memory",
                title="Redis-Speicher fast voll",
                detail=f"Redis belegt {fraction * 100:.0f} % seines Limits (maxmemory; Grenze: "
                f"{limit} %). Ist es erreicht, nimmt Redis keine Vorgänge und Sitzungen mehr an.",
                severity=Severity.ERROR,
            )
        )
    if facts.aof_enabled is False:
        findings.append(
            Finding(
                key="redis-aof",
                title="Redis ohne AOF",
                detail="Redis schreibt kein Append-Only-File: nach einem Neustart können "
                "Vorgänge fehlen. Setzen Sie „appendonly yes“.",
            )
        )
    if facts.eviction_ok is False:
        findings.append(
            Finding(
                key="redis-eviction",
                title="Redis kann Daten verdrängen",
                detail=f"Mit maxmemory-policy „{facts.eviction_policy}“ löscht Redis bei vollem "
                "Speicher Schlüssel, auch Vorgänge. Setzen Sie „maxmemory-policy noeviction“.",
            )
        )
    return findings


async def disks(readings: Readings) -> list[Finding]:
    """Free space under the threshold on the file system of uploads or logs, any process."""
    limit = readings.runtime.get(ALERT_DISK_FREE_PERCENT)
    short: dict[str, list[str]] = {}
    for process in readings.processes:
        for label, disk in process.disks.items():
            if disk.free_fraction * 100 < limit:
                short.setdefault(label, []).append(
                    f"{process.name}: {disk.path} ({disk.free_fraction * 100:.1f} % frei)"
                )
    return [
        Finding(
            key=f"disk:{label}",
            title=f"Wenig Speicherplatz: {label}",
            detail=f"Weniger als {limit} % frei – " + "; ".join(sorted(places)),
            severity=Severity.ERROR,
        )
        for label, places in sorted(short.items())
    ]


async def logging(readings: Readings) -> list[Finding]:
    """A process that cannot write its log lines (e.g. a full log disk)."""
    degraded = sorted(p.name for p in readings.processes if p.logging_degraded)
    if not degraded:
        return []
    return [
        Finding(
            key="logging",
            title="Protokollierung gestört",
            detail="Diese Prozesse können nicht protokollieren: " + "; ".join(degraded) + ".",
        )
    ]


# Every check by name; the name is stored with its incidents (`Incident.check`).
CHECKS: Mapping[str, Check] = {
    "workers": workers,
    "backlog": backlog,
    "failures": failures,
    "redis": redis,
    "disks": disks,
    "logging": logging,
}
