"""What must hold after the run, read from Redis, the database, the tabs and the logs.

- Jobs: every job in the `dokumente` and `test` queues (acknowledged or not) is completed
  or failed; a job still waiting, active or delayed after the drain is lost, and so is an
  acknowledged job that is not in Redis at all, or a Dokument left unfinished.
- Notifications: each finished job created exactly the notifications it owes (none
  missing, none twice), and every notification in the database reached its tab, shown
  once after de-duplication.
- Processes: none ended unless the suite ended it; a SIGTERMed or finally stopped process
  exited 0; no log line reports an error that a fault does not explain.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bullmq import Job
from sqlalchemy import select
from tests.chaos.browser import BrowserTab
from tests.chaos.faults import POSTGRES_RESTART, REDIS_RESTART, Fault
from tests.chaos.load import LoadRecord
from tests.chaos.system import ChaosSystem, Fate

from ailawyer.db.models import Dokument, DokumentStatus, Notification
from ailawyer.notifications.types import (
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_FAILED_ADMIN,
    SYSTEM_ALERT,
)

QUEUES = ("dokumente", "test")
UNFINISHED_STATES = ("waiting", "active", "delayed", "prioritized", "waiting-children", "paused")
FINISHED_STATES = ("completed", "failed")
STALLED_TOO_OFTEN = "stalled more than allowable limit"
# Text in an error line that names a dependency being away. Only lines logged during a
# Redis or PostgreSQL restart count as explained by it: requests and jobs in flight fail
# then by design (the caller retries, the user sees an error page, the job its retry).
OUTAGE_SIGNATURES = (
    "redis.exceptions.",
    "asyncpg.exceptions.",
    "sqlalchemy.exc.",
    # Also asyncpg's "unexpected connection_lost() call" and redis-py's repr of its
    # ConnectionError and BusyLoadingError (Redis still loading its AOF).
    "ConnectionError",
    "BusyLoadingError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    # python-socketio's publish: it tries twice, then drops the event; the clients catch
    # up when their app process resubscribes after the same outage.
    "Cannot publish to redis",
)
# Log lines and fault windows come from different clocks' points of view (a line is
# written a moment after the failure it reports).
OUTAGE_MARGIN_SECONDS = 2.0
# The worker's line when it enqueued the job of a Dokument again (dokumente.recovery).
RECOVERED = "dokumente without a job enqueued again"
# Error lines that are the system reporting an expected outcome, not a malfunction.
EXPECTED_ERROR_MESSAGES = ("job failed for good",)
# The worker's lines that open and close one run of a job (worker/pool.py; the first two at
# DEBUG, which the chaos system runs at).
RUN_STARTED = "job started"
RUN_ENDED = ("job completed", "job failed for good", "job attempt failed; retrying later")
# Logged when bullmq fails a job that stalled more often than JOB_MAX_STALLED_COUNT allows:
# expected only if the suite's SIGKILLs cut that many runs of the job short.
STALLED_FAILURE = "job failed for good after stalling too often"


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class JobsResult:
    enqueued: dict[str, int] = field(default_factory=dict)  # by queue
    acknowledged: int = 0
    completed: int = 0
    failed_after_all_attempts: int = 0
    failed_unrecoverable: int = 0
    failed_stalled_too_often: int = 0
    # Of those: every stall explained by a SIGKILL of the worker running it.
    failed_after_killed_runs: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    # Retries after a failed attempt are planned; runs repeated after a crash are not.
    retried: int = 0
    repeated_after_crash: int = 0
    ran_more_than_once: int = 0
    unexpected_outcome: list[str] = field(default_factory=list)
    dokumente_unfinished: list[int] = field(default_factory=list)
    dokumente_inconsistent: list[str] = field(default_factory=list)


@dataclass
class NotificationsResult:
    created: int = 0
    owed_missing: list[str] = field(default_factory=list)
    created_twice: list[str] = field(default_factory=list)
    received: int = 0
    lost: list[str] = field(default_factory=list)
    shown_twice: int = 0
    raw_socket_duplicates: int = 0
    raw_socket_and_fetch_overlaps: int = 0
    only_in_final_sweep: int = 0
    live_latency_p50_ms: float | None = None
    live_latency_p99_ms: float | None = None
    reconnects: int = 0
    reloads: int = 0
    tabs_not_connected_at_end: int = 0
    sessions_lost: int = 0


@dataclass
class ProcessesResult:
    started: int = 0
    crashed: list[str] = field(default_factory=list)
    bad_exit: list[str] = field(default_factory=list)
    # Error lines no fault explains, by process and message (the run fails on any).
    error_lines: dict[str, int] = field(default_factory=dict)
    # Error lines about Redis or PostgreSQL being away, logged while one was restarting.
    outage_error_lines: int = 0
    raw_output_lines: dict[str, int] = field(default_factory=dict)
    # Dokumente whose job was gone (upload cut short) and that the recovery enqueued again.
    recovered_dokumente: list[int] = field(default_factory=list)


@dataclass
class ChaosReport:
    seed: int
    seconds: float
    clients: int
    postgres: str
    faults: list[Fault]
    load: dict[str, int]
    jobs: JobsResult
    notifications: NotificationsResult
    processes: ProcessesResult
    drain_seconds: float
    recovery_bound_seconds: float

    @property
    def recovery(self) -> list[float]:
        return [f.recovery_seconds for f in self.faults if f.recovery_seconds is not None]

    def problems(self) -> list[str]:
        """Everything that makes the run fail, one line each."""
        found = []
        jobs, notes, procs = self.jobs, self.notifications, self.processes
        if jobs.lost:
            found.append(f"lost jobs: {jobs.lost[:20]}")
        if jobs.dokumente_unfinished:
            found.append(f"Dokumente never finished: {jobs.dokumente_unfinished[:20]}")
        if jobs.dokumente_inconsistent:
            found.append(f"Dokument status ≠ job state: {jobs.dokumente_inconsistent[:20]}")
        if jobs.unexpected_outcome:
            found.append(f"jobs that ended otherwise than planned: {jobs.unexpected_outcome[:20]}")
        if notes.owed_missing:
            found.append(f"notifications never created: {notes.owed_missing[:20]}")
        if notes.created_twice:
            found.append(f"notifications created twice: {notes.created_twice[:20]}")
        if notes.lost:
            found.append(f"notifications not received after catch-up: {notes.lost[:20]}")
        if notes.shown_twice:
            found.append(f"notifications shown twice: {notes.shown_twice}")
        if notes.tabs_not_connected_at_end or notes.sessions_lost:
            found.append(
                f"tabs not connected at the end: {notes.tabs_not_connected_at_end}, "
                f"sessions lost: {notes.sessions_lost}"
            )
        if procs.crashed:
            found.append(f"processes that crashed: {procs.crashed}")
        if procs.bad_exit:
            found.append(f"processes that did not exit 0 when asked to stop: {procs.bad_exit}")
        if procs.error_lines:
            found.append(f"error log lines no fault explains: {dict(procs.error_lines)}")
        if procs.raw_output_lines:
            found.append(f"output outside the JSON logs: {dict(procs.raw_output_lines)}")
        for fault in self.faults:
            if fault.problem:
                found.append(f"fault at {fault.at_seconds}s ({fault.kind}): {fault.problem}")
        return found

    def render(self) -> str:
        """The report as text, for the console and bench/RESULTS.md."""
        jobs, notes, procs = self.jobs, self.notifications, self.processes
        by_kind: dict[str, list[float]] = defaultdict(list)
        for fault in self.faults:
            by_kind[fault.kind].append(fault.recovery_seconds or math.inf)
        lines = [
            f"chaos run: seed {self.seed}, {self.seconds:.0f} s of load, {self.clients} tabs, "
            f"PostgreSQL: {self.postgres}",
            f"faults injected: {len(self.faults)}",
        ]
        for kind, times in sorted(by_kind.items()):
            lines.append(
                f"  {kind:<30} {len(times):>3}   recovery max {max(times):6.2f} s   "
                f"p95 {percentile(times, 0.95):6.2f} s"
            )
        recovery = self.recovery
        lines.append(
            f"  all faults: back to healthy within max {max(recovery, default=0):.2f} s, "
            f"p95 {percentile(recovery, 0.95) or 0:.2f} s "
            f"(bound {self.recovery_bound_seconds:.0f} s; not recovered: "
            f"{sum(f.recovery_seconds is None for f in self.faults)})"
        )
        load = ", ".join(f"{k}: {v}" for k, v in sorted(self.load.items()))
        lines += [
            f"requests: {load}",
            f"jobs: {sum(jobs.enqueued.values())} enqueued ({dict(jobs.enqueued)}), "
            f"{jobs.acknowledged} acknowledged to the client; drained after "
            f"{self.drain_seconds:.1f} s",
            f"  completed {jobs.completed}, failed after all attempts "
            f"{jobs.failed_after_all_attempts}, unrecoverable {jobs.failed_unrecoverable}, "
            f"stalled too often {jobs.failed_stalled_too_often} (after as many runs cut short "
            f"by a worker SIGKILL: {len(jobs.failed_after_killed_runs)})",
            f"  LOST: {len(jobs.lost)}   unfinished Dokumente: {len(jobs.dokumente_unfinished)}"
            f"   status/job mismatches: {len(jobs.dokumente_inconsistent)}"
            f"   unexpected outcomes: {len(jobs.unexpected_outcome)}",
            f"  ran more than once: {jobs.ran_more_than_once} "
            f"(retried after a failed attempt: {jobs.retried}; "
            f"run again after a crash or stall: {jobs.repeated_after_crash})",
            f"  Dokumente whose job was gone and that the recovery enqueued again: "
            f"{procs.recovered_dokumente}",
            f"notifications: {notes.created} created, {notes.received} received",
            f"  LOST: {len(notes.lost)}   DUPLICATES SHOWN: {notes.shown_twice}   "
            f"owed but never created: {len(notes.owed_missing)}   "
            f"created twice: {len(notes.created_twice)}",
            f"  raw duplicates before de-duplication: {notes.raw_socket_duplicates} by socket, "
            f"{notes.raw_socket_and_fetch_overlaps} by socket and catch-up; "
            f"found only by the final sweep: {notes.only_in_final_sweep}",
            f"  socket latency p50 {notes.live_latency_p50_ms} ms, p99 "
            f"{notes.live_latency_p99_ms} ms; reconnects {notes.reconnects}, reloads "
            f"{notes.reloads}",
            f"processes: {procs.started} started, crashed {len(procs.crashed)}, "
            f"bad exits {len(procs.bad_exit)}; error lines during a Redis/PostgreSQL restart "
            f"{procs.outage_error_lines}, unexplained {sum(procs.error_lines.values())}",
        ]
        problems = self.problems()
        lines.append("RESULT: " + ("PASS" if not problems else "FAIL"))
        lines += [f"  - {problem}" for problem in problems]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = self.problems()
        return data


# --- jobs ---------------------------------------------------------------------------------


async def all_jobs(system: ChaosSystem) -> dict[str, list[tuple[Job, str]]]:
    """Every job of the checked queues with its state (unfinished ones included)."""
    found: dict[str, list[tuple[Job, str]]] = {}
    for name in QUEUES:
        queue = system.services.jobs.queue(name)
        found[name] = []
        for state in (*FINISHED_STATES, *UNFINISHED_STATES):
            for job in await queue.getJobs([state]):
                if job is not None:
                    found[name].append((job, state))
    return found


async def progress(system: ChaosSystem) -> tuple[int, int]:
    """(unfinished, finished): jobs still to run plus unfinished Dokumente, and jobs done."""
    unfinished = finished = 0
    for name in QUEUES:
        queue = system.services.jobs.queue(name)
        unfinished += sum((await queue.getJobCounts(*UNFINISHED_STATES)).values())
        finished += sum((await queue.getJobCounts(*FINISHED_STATES)).values())
    async with system.services.db.session() as db:
        open_dokumente = await db.scalars(
            select(Dokument.id).where(
                Dokument.status.in_([DokumentStatus.AUSSTEHEND, DokumentStatus.IN_BEARBEITUNG])
            )
        )
        unfinished += len(open_dokumente.all())
    return unfinished, finished


def _expected_test_outcome(job: Job) -> str:
    return "failed" if job.data.get("failure") == "always" else "completed"


async def check_jobs(
    system: ChaosSystem, record: LoadRecord, admins: list[int]
) -> tuple[JobsResult, Counter[tuple[str, int, str]]]:
    """The jobs' fate, and the notifications (type, user, reference) they owe."""
    result = JobsResult()
    owed: Counter[tuple[str, int, str]] = Counter()
    jobs = await all_jobs(system)
    killed_runs = runs_cut_by_kills(system)
    async with system.services.db.session() as db:
        dokumente = {d.id: d for d in (await db.scalars(select(Dokument))).all()}
    dokument_jobs = {d.job_id: d for d in dokumente.values() if d.job_id}
    acknowledged_test = set(record.test_jobs)
    seen_test: set[str] = set()
    for queue, entries in jobs.items():
        for job, state in entries:
            job_id = str(job.id)
            result.enqueued[queue] = result.enqueued.get(queue, 0) + 1
            label = f"{queue}/{job_id}"
            if state not in FINISHED_STATES:
                result.lost.append(f"{label} ({state})")
                continue
            attempts = int(job.opts.get("attempts") or 1)
            if job.attemptsStarted > 1:
                result.ran_more_than_once += 1
            if job.attemptsMade > 1:
                result.retried += 1
            if job.attemptsStarted > job.attemptsMade:
                result.repeated_after_crash += 1
            reason = job.failedReason or ""
            if state == "completed":
                result.completed += 1
            elif STALLED_TOO_OFTEN in reason:
                result.failed_stalled_too_often += 1
                # bullmq fails a job whose runs ended in a crash more than maxStalledCount
                # times (a poison job must not take down worker after worker). The suite's
                # kills can do that to an innocent job; anything else is a lost lock: a bug.
                if killed_runs[label] > system.settings.job_max_stalled_count:
                    result.failed_after_killed_runs.append(label)
            elif job.attemptsMade >= attempts:
                result.failed_after_all_attempts += 1
            else:
                result.failed_unrecoverable += 1
            if queue == "test":
                seen_test.add(job_id)
                planned = _expected_test_outcome(job)
                if state != planned and label not in result.failed_after_killed_runs:
                    result.unexpected_outcome.append(f"{label} {state}: {reason[:120]}")
                if state == "failed":
                    owed.update((JOB_FAILED_ADMIN.key, admin, label) for admin in admins)
            else:
                dokument = dokument_jobs.get(job_id)
                if dokument is None:
                    # The upload was undone (enqueue failed) or the Dokument deleted.
                    continue
                _check_dokument(result, dokument, state, label, reason, owed, admins)
    result.acknowledged = len(acknowledged_test) + len(record.dokumente)
    result.lost += [
        f"test/{job_id} (acknowledged, not in Redis)" for job_id in acknowledged_test - seen_test
    ]
    for dokument_id in record.dokumente:
        if dokument_id not in dokumente:
            result.lost.append(f"Dokument {dokument_id} (acknowledged, not in the database)")
    for dokument in dokumente.values():
        if dokument.status in (DokumentStatus.AUSSTEHEND, DokumentStatus.IN_BEARBEITUNG):
            result.dokumente_unfinished.append(dokument.id)
        elif dokument.job_id is None:
            result.dokumente_inconsistent.append(f"Dokument {dokument.id} without a job")
    return result, owed


def runs_cut_by_kills(system: ChaosSystem) -> Counter[str]:
    """Per job ("queue/id"), how many of its runs ended because the suite SIGKILLed the worker.

    A run is cut short when the worker logged its start and not its end before it was killed.
    """
    cut: Counter[str] = Counter()
    for managed in system.processes:
        if managed.kind != "worker" or managed.fate != Fate.KILLED:
            continue
        open_runs: set[str] = set()
        for _, entry in _entries(managed.process.log_path):
            if entry is None:
                continue
            label = f"{entry.get('queue')}/{entry.get('jobId')}"
            if entry.get("message") == RUN_STARTED:
                open_runs.add(label)
            elif entry.get("message") in RUN_ENDED:
                open_runs.discard(label)
        cut.update(open_runs)
    return cut


def _check_dokument(
    result: JobsResult,
    dokument: Dokument,
    state: str,
    label: str,
    reason: str,
    owed: Counter[tuple[str, int, str]],
    admins: list[int],
) -> None:
    corrupt = dokument.dateiname == "kaputt.pdf"
    planned = "failed" if corrupt else "completed"
    if state != planned and label not in result.failed_after_killed_runs:
        result.unexpected_outcome.append(f"{label} {state}: {reason[:120]}")
    finished = {
        "completed": DokumentStatus.ABGESCHLOSSEN,
        "failed": DokumentStatus.FEHLGESCHLAGEN,
    }[state]
    if dokument.status is not finished and dokument.status not in (
        DokumentStatus.AUSSTEHEND,
        DokumentStatus.IN_BEARBEITUNG,
    ):
        result.dokumente_inconsistent.append(f"{label}: job {state}, Dokument {dokument.status}")
    uploader = dokument.uploaded_by_id
    if uploader is None:
        return
    reference = f"Dokument {dokument.id}"
    if dokument.status is DokumentStatus.ABGESCHLOSSEN:
        owed[(JOB_COMPLETED.key, uploader, reference)] += 1
    elif dokument.status is DokumentStatus.FEHLGESCHLAGEN:
        owed[(JOB_FAILED.key, uploader, reference)] += 1
        owed.update((JOB_FAILED_ADMIN.key, admin, label) for admin in admins)


# --- notifications ----------------------------------------------------------------------


def _reference(row: Notification) -> str:
    data = row.data or {}
    if row.type == JOB_FAILED_ADMIN.key:
        return f"{data.get('queue')}/{data.get('jobId')}"
    if row.type == SYSTEM_ALERT.key:
        # A killed worker or Redis may start an incident more than once; each start (and
        # its end) is one notification, told apart by when its condition began.
        return f"{data.get('incident')} {data.get('state')} {data.get('since')}"
    return f"Dokument {data.get('dokumentId')}"


async def check_notifications(
    system: ChaosSystem, owed: Counter[tuple[str, int, str]], tabs: list[BrowserTab]
) -> NotificationsResult:
    result = NotificationsResult()
    async with system.services.db.session() as db:
        rows = list((await db.scalars(select(Notification))).all())
    result.created = len(rows)
    created: Counter[tuple[str, int, str]] = Counter(
        (row.type, row.user_id, _reference(row)) for row in rows
    )
    for key, count in owed.items():
        if created[key] < count:
            result.owed_missing.append(" ".join(map(str, key)))
    for key, count in created.items():
        if count > max(1, owed[key]):
            result.created_twice.append(f"{' '.join(map(str, key))} ×{count}")
    by_user: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        by_user[row.user_id].add(row.id)
    latencies: list[float] = []
    for tab in tabs:
        tally = tab.tally
        received = tally.received()
        result.received += len(received & by_user[tab.user_id])
        result.lost += [f"user {tab.user_id} #{i}" for i in sorted(by_user[tab.user_id] - received)]
        result.shown_twice += sum(count - 1 for count in tally.shown.values() if count > 1)
        result.raw_socket_duplicates += sum(c - 1 for c in tally.frames.values() if c > 1)
        result.raw_socket_and_fetch_overlaps += len(set(tally.frames) & set(tally.fetched))
        result.only_in_final_sweep += len(tally.only_in_final_sweep)
        result.reconnects += max(0, tally.connects - 1)
        result.reloads += tally.reloads
        result.tabs_not_connected_at_end += not tab.connected
        result.sessions_lost += tab.session_gone
        latencies += tally.live_latency_ms
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    result.live_latency_p50_ms = None if p50 is None else round(p50, 1)
    result.live_latency_p99_ms = None if p99 is None else round(p99, 1)
    return result


# --- processes and logs ------------------------------------------------------------------


def check_processes(system: ChaosSystem, faults: list[Fault], jobs: JobsResult) -> ProcessesResult:
    result = ProcessesResult(started=len(system.processes))
    for managed in system.processes:
        if managed.fate == Fate.CRASHED:
            result.crashed.append(managed.describe())
        elif managed.fate in (Fate.TERMINATED, Fate.STOPPED) and managed.exit_code != 0:
            result.bad_exit.append(managed.describe())
    # Redis or PostgreSQL away: requests and jobs in flight fail, and say so at ERROR.
    outages = [
        (f.began_at - OUTAGE_MARGIN_SECONDS, f.ended_at + OUTAGE_MARGIN_SECONDS)
        for f in faults
        if f.kind in (REDIS_RESTART, POSTGRES_RESTART)
    ]
    explained = set(jobs.failed_after_killed_runs)
    for path in system.output_files():
        _scan(path, result, outages, explained)
    return result


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _during(moment: str, windows: list[tuple[float, float]]) -> bool:
    try:
        at = datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return any(start <= at <= end for start, end in windows)


def _entries(path: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each non-empty output line with its JSON log entry (None: not a JSON object)."""
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        yield line, entry if isinstance(entry, dict) else None


def _scan(
    path: Path, result: ProcessesResult, outages: list[tuple[float, float]], explained: set[str]
) -> None:
    for line, entry in _entries(path):
        if entry is None:
            _count(result.raw_output_lines, f"{path.stem}: {line[:120]}")
            continue
        if entry.get("message") == RECOVERED:
            result.recovered_dokumente += entry.get("dokumente", [])
        if str(entry.get("level", "")).upper() not in ("ERROR", "CRITICAL"):
            continue
        message = str(entry.get("message", ""))
        if message in EXPECTED_ERROR_MESSAGES:
            continue
        if message == STALLED_FAILURE and f"{entry.get('queue')}/{entry.get('jobId')}" in explained:
            continue
        text = f"{message} {entry.get('exception', '')} {entry.get('error', '')}"
        if _during(str(entry.get("timestamp", "")), outages) and any(
            signature in text for signature in OUTAGE_SIGNATURES
        ):
            result.outage_error_lines += 1
            continue
        exception = str(entry.get("exception", "")).strip().splitlines()
        _count(result.error_lines, f"{path.stem}: {message} {exception[-1] if exception else ''}")
