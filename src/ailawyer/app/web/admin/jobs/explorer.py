"""The job explorer's read side: queues with counts and workers, job pages, one job, search.

Read-only and framework-free (like `admin.system.status`). bullmq's API serves counts,
job pages and logs; search, which bullmq lacks, runs a read-only Lua script in bounded
chunks (both through `ailawyer.jobs.bullmq_adapter`). Everything read here is job data,
i.e. user-controlled: it is parsed leniently (a malformed field shows as missing, never
as an error page) and the templates render it as text.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bullmq import Queue
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.app.web.admin.system.status import ProcessInfo, process_list
from ailawyer.db.models import Akte, User
from ailawyer.jobs import bullmq_adapter
from ailawyer.jobs.access import EVERY_JOB, JobOwner, JobScope, job_owner, queues_in_scope
from ailawyer.jobs.attempts import Attempts, count_attempts
from ailawyer.jobs.bullmq_adapter import QueueCounts, SearchScript
from ailawyer.jobs.job_ids import is_job_id
from ailawyer.jobs.queues import JobQueues

STATE_LABELS: Mapping[str, str] = {
    "waiting": "Wartend",
    "prioritized": "Priorisiert",
    "delayed": "Verzögert",
    "waiting-children": "Wartet auf Unteraufträge",
    "active": "Aktiv",
    "completed": "Abgeschlossen",
    "failed": "Fehlgeschlagen",
}
# A whole state can be cleaned, except active jobs: a worker holds them.
CLEANABLE_STATES = ("waiting", "prioritized", "delayed", "completed", "failed")

PER_PAGE = 25
# The newest log lines a job page shows; older ones are counted, not loaded.
LOG_LINES = 500
# Pretty-printed JSON beyond this is cut (a foreign queue may carry huge payloads).
MAX_JSON_CHARS = 64 * 1024


# --- queues ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueWorker:
    """One live worker process serving a queue, from its heartbeat."""

    process: ProcessInfo
    concurrency: int | None
    active: int | None


@dataclass(frozen=True)
class QueueOverview:
    """A queue as the explorer lists it: declared or only found in Redis."""

    name: str
    label: str | None
    declared: bool
    counts: QueueCounts
    workers: list[QueueWorker]

    @property
    def no_worker(self) -> bool:
        """Nobody takes this queue's jobs: they wait until a worker for it starts."""
        return not self.workers

    @property
    def concurrency(self) -> int:
        return sum(worker.concurrency or 0 for worker in self.workers)


async def read_queues(
    jobs: JobQueues,
    heartbeats: Sequence[Mapping[str, Any]],
    *,
    fresh: bool,
    scope: JobScope = EVERY_JOB,
) -> list[QueueOverview]:
    """Every queue `scope` sees (declared ones plus those found in Redis) with its counts
    (of the scope's jobs) and workers."""
    names = queues_in_scope(scope, await jobs.known(fresh=fresh))
    counts = await asyncio.gather(*(read_scoped_counts(jobs, name, scope) for name in names))
    processes = process_list(heartbeats)
    return [
        _overview(jobs, name, queue_counts, processes)
        for name, queue_counts in zip(names, counts, strict=True)
    ]


async def read_queue(
    jobs: JobQueues, heartbeats: Sequence[Mapping[str, Any]], name: str, scope: JobScope
) -> QueueOverview:
    """One queue with counts and workers (without looking for all the others)."""
    counts = await read_scoped_counts(jobs, name, scope)
    return _overview(jobs, name, counts, process_list(heartbeats))


async def read_scoped_counts(jobs: JobQueues, name: str, scope: JobScope) -> QueueCounts:
    """A queue's counts per state: all of them (O(1)), or one Kanzlei's (a cached scan)."""
    if scope.kanzlei_id is None:
        return await bullmq_adapter.read_counts(jobs.queue(name))
    return await jobs.kanzlei_counts.counts(name, scope.kanzlei_id)


def _overview(
    jobs: JobQueues, name: str, counts: QueueCounts, processes: Sequence[ProcessInfo]
) -> QueueOverview:
    definition = jobs.definitions.get(name)
    workers = [
        QueueWorker(
            process=process,
            concurrency=_int(process.queues[name].get("concurrency")),
            active=_int(process.queues[name].get("active")),
        )
        for process in processes
        if isinstance(process.queues.get(name), Mapping)
    ]
    return QueueOverview(
        name=name,
        label=definition.label if definition else None,
        declared=definition is not None,
        counts=counts,
        workers=workers,
    )


# --- jobs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSummary:
    """A job as a list row shows it (times in epoch seconds, None where unknown)."""

    id: str
    name: str
    state: str | None
    created: float | None
    started: float | None
    finished: float | None
    delay_ms: int
    attempts_started: int
    attempts_made: int
    attempts_max: int
    akte_id: int | None
    user_id: int | None
    progress: Any
    failed_reason: str | None
    # How often a person retried it (each retry starts its automatic attempts afresh).
    manual_retries: int = 0

    @property
    def attempts(self) -> Attempts:
        """Automatic attempts against their maximum, manual retries apart."""
        return count_attempts(self.attempts_made, self.attempts_max, self.manual_retries)

    def age_seconds(self, now: float) -> float | None:
        return None if self.created is None else max(0.0, now - self.created)

    @property
    def due(self) -> float | None:
        """When a delayed job becomes due (creation plus its delay)."""
        if self.created is None or not self.delay_ms:
            return None
        return self.created + self.delay_ms / 1000

    @property
    def wait_seconds(self) -> float | None:
        """From due to the start of the first attempt; unknown once a later one started."""
        if (
            self.created is None
            or self.started is None
            or self.attempts_started > 1
            or self.manual_retries
        ):
            return None
        return max(0.0, self.started - self.created - self.delay_ms / 1000)

    @property
    def run_seconds(self) -> float | None:
        """From the start of the latest attempt to its end."""
        if self.started is None or self.finished is None:
            return None
        return max(0.0, self.finished - self.started)

    @property
    def progress_percent(self) -> int | None:
        """The progress as a whole percentage, when it is a number at all."""
        if isinstance(self.progress, bool) or not isinstance(self.progress, int | float):
            return None
        return max(0, min(100, round(self.progress)))


@dataclass(frozen=True)
class JobDetail:
    """Everything the job page shows, JSON already pretty-printed (still to be escaped)."""

    summary: JobSummary
    data: Any  # the payload as parsed (None where it is no JSON): whose job it is
    data_json: str
    opts_json: str
    return_json: str | None
    progress_json: str | None
    stacktraces: list[str]
    logs: list[str]
    log_count: int

    @property
    def older_log_lines(self) -> int:
        return max(0, self.log_count - len(self.logs))

    def without_parent(self) -> JobDetail:
        """The job for a viewer who may not see its parent: bullmq names a flow's parent in
        the child's options too."""
        opts = _json(self.opts_json)
        if isinstance(opts, dict):
            opts.pop("parent", None)
            return replace(self, opts_json=pretty_json(json.dumps(opts)))
        # Cut (huge) or no JSON at all: shown not at all rather than with the parent.
        return replace(self, opts_json="")


def summarize_job(job_id: str, fields: Mapping[str, str], state: str | None) -> JobSummary:
    """A row from a job's raw hash; a field that does not parse counts as missing."""
    data = _json(fields.get("data"))
    opts = _json(fields.get("opts"))
    payload = data if isinstance(data, dict) else {}
    return JobSummary(
        id=job_id,
        name=str(fields.get("name") or ""),
        state=state,
        created=_seconds(fields.get("timestamp")),
        started=_seconds(fields.get("processedOn")),
        finished=_seconds(fields.get("finishedOn")),
        delay_ms=_int(fields.get("delay")) or 0,
        attempts_started=_int(fields.get("ats")) or 0,
        attempts_made=_int(fields.get("atm") or fields.get("attemptsMade")) or 0,
        attempts_max=_int(opts.get("attempts") if isinstance(opts, dict) else None) or 1,
        akte_id=_id(payload.get("akteId")),
        user_id=_id(payload.get("userId")),
        progress=_json(fields.get("progress")),
        failed_reason=fields.get("failedReason") or None,
        manual_retries=bullmq_adapter.manual_retries(fields),
    )


@dataclass(frozen=True)
class JobPage:
    """One page of a state's jobs, newest first."""

    state: str
    rows: list[JobSummary]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


async def read_job_page(
    queue: Queue, state: str, total: int, page: int, per_page: int = PER_PAGE
) -> JobPage:
    """Page `page` (from 1, clamped to the last) of the jobs in `state`, newest first."""
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    jobs = await bullmq_adapter.read_job_range(queue, state, start, start + per_page - 1)
    rows = [summarize_job(job_id, fields, state) for job_id, fields in jobs]
    return JobPage(state=state, rows=rows, total=total, page=page, per_page=per_page)


async def read_job(queue: Queue, job_id: str) -> JobDetail | None:
    """One job with its logs (the newest LOG_LINES), or None if it does not exist."""
    fields, state, logs = await asyncio.gather(
        bullmq_adapter.read_job_fields(queue, job_id),
        queue.getJobState(job_id),
        queue.getJobLogs(job_id, -LOG_LINES, -1),
    )
    if not fields:
        return None
    traces = _json(fields.get("stacktrace"))
    returned = fields.get("returnvalue")
    progress = fields.get("progress")
    return JobDetail(
        summary=summarize_job(job_id, fields, state if state in STATE_LABELS else None),
        data=_json(fields.get("data")),
        data_json=pretty_json(fields.get("data")),
        opts_json=pretty_json(fields.get("opts")),
        return_json=pretty_json(returned) if returned not in (None, "", "null") else None,
        progress_json=pretty_json(progress) if progress not in (None, "", "0") else None,
        stacktraces=[str(t) for t in traces if t] if isinstance(traces, list) else [],
        logs=[str(line) for line in logs.get("logs", [])],
        log_count=int(logs.get("count") or 0),
    )


def pretty_json(text: str | None) -> str:
    """Indented JSON for a page; text that is not JSON is shown as it is. Cut when huge."""
    if text is None:
        return ""
    try:
        pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = text
    if len(pretty) > MAX_JSON_CHARS:
        return pretty[:MAX_JSON_CHARS] + "\n… (gekürzt)"
    return pretty


# --- flows: a job's parent and children ----------------------------------------------------

# Children a job page shows at most (a flow may have thousands).
FLOW_CHILDREN = 50


@dataclass(frozen=True)
class FlowJob:
    """A job related to the one shown, its parent or a child: where it is, what it is."""

    key: str  # bullmq's key of the job, shown where it is none of our queues
    queue: str | None
    id: str | None
    name: str
    state: str | None  # None: gone, or under another prefix
    owner: JobOwner
    # A child's kind (bullmq_adapter.CHILD_KINDS: "ignored" failed without failing its
    # parent); None for the parent.
    kind: str | None
    linkable: bool  # it has a page here (a queue of ours and an id of that queue's form)


@dataclass(frozen=True)
class JobFlow:
    """The parent (if any) and the first FLOW_CHILDREN children of a job."""

    parent: FlowJob | None
    children: list[FlowJob]
    children_total: int
    # The job has a parent this viewer may not see (`visible`).
    parent_hidden: bool = False

    @property
    def more_children(self) -> int:
        return max(0, self.children_total - len(self.children))

    def visible(self, may_see: Callable[[FlowJob], bool]) -> JobFlow:
        """Only the related jobs `may_see` allows. When any child is left out, the total
        counts only the children shown: how many jobs another Kanzlei has stays its own."""
        children = [child for child in self.children if may_see(child)]
        total = self.children_total if len(children) == len(self.children) else len(children)
        parent = self.parent if self.parent is not None and may_see(self.parent) else None
        return JobFlow(
            parent=parent,
            children=children,
            children_total=total,
            parent_hidden=self.parent is not None and parent is None,
        )


async def read_flow(jobs: JobQueues, queue: Queue, job_id: str) -> JobFlow:
    """A job's parent and children with their names, states and owners."""
    links = await bullmq_adapter.read_flow_links(jobs.redis, queue, job_id, FLOW_CHILDREN)
    related = [(None, links.parent)] if links.parent is not None else []
    related += links.children
    glimpses = await bullmq_adapter.read_glimpses(
        jobs.redis, jobs.queue, [job for _, job in related]
    )
    found = [
        FlowJob(
            key=job.key,
            queue=job.queue,
            id=job.id,
            name=glimpse.name,
            state=glimpse.state if glimpse.state in STATE_LABELS else None,
            owner=job_owner(job.queue or "", _json(glimpse.data)),
            kind=kind,
            linkable=job.queue is not None
            and job.id is not None
            and is_job_id(job.queue, job.id, jobs.definitions),
        )
        for (kind, job), glimpse in zip(related, glimpses, strict=True)
    ]
    parent = found.pop(0) if links.parent is not None else None
    return JobFlow(parent=parent, children=found, children_total=links.children_total)


# --- owners: the Akte and user a job belongs to --------------------------------------------


@dataclass(frozen=True)
class Owners:
    """Aktenzeichen and user names, only for Akten and users of the viewer's Kanzlei.

    Jobs are system-wide, their payloads hold bare ids; names never cross Kanzleien.
    """

    akten: Mapping[int, str] = field(default_factory=dict)
    users: Mapping[int, str] = field(default_factory=dict)


async def read_owners(session: AsyncSession, kanzlei_id: int, jobs: Iterable[JobSummary]) -> Owners:
    """Names for the Akten and users the `jobs` refer to, within one Kanzlei."""
    jobs = list(jobs)
    akte_ids = {job.akte_id for job in jobs if job.akte_id is not None}
    user_ids = {job.user_id for job in jobs if job.user_id is not None}
    akten: dict[int, str] = {}
    users: dict[int, str] = {}
    if akte_ids:
        result = await session.execute(
            select(Akte.id, Akte.aktenzeichen).where(
                Akte.id.in_(akte_ids), Akte.kanzlei_id == kanzlei_id
            )
        )
        akten = {row.id: row.aktenzeichen for row in result}
    if user_ids:
        result = await session.execute(
            select(User.id, User.name).where(User.id.in_(user_ids), User.kanzlei_id == kanzlei_id)
        )
        users = {row.id: row.name for row in result}
    return Owners(akten=akten, users=users)


# --- search ------------------------------------------------------------------------------

# States in the order results are listed (those a person looks for first).
SEARCH_STATES = (
    "active",
    "waiting",
    "prioritized",
    "delayed",
    "waiting-children",
    "failed",
    "completed",
)
# Jobs one Lua call inspects: a few milliseconds of Redis time, then others get their turn.
SEARCH_CHUNK = 1000
# Jobs one request inspects at most, and for how long it starts new chunks; the page
# then offers to search on from where it stopped. Reading a job costs Redis 2–8 µs
# (bench/RESULTS.md), so a loaded machine stops by the clock before the count.
SEARCH_BUDGET = 100_000
SEARCH_SECONDS = 1.0
SEARCH_RESULTS = 50
MAX_QUERY_LENGTH = 200
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True)
class SearchQuery:
    """Plain text (job id, name or payload text), `feld=wert` for one payload field, or
    nothing: every job (a Kanzlei's list of one state, `every_job`). Plain text also finds
    the jobs naming `references`: the rows it names in the database (`search.rows_named_by`)."""

    text: str
    field: str | None = None
    value: str | None = None
    references: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def parse(cls, raw: str) -> SearchQuery:
        text = raw.strip()[:MAX_QUERY_LENGTH]
        name, sign, value = text.partition("=")
        if sign and name.strip() and " " not in name.strip():
            return cls(text=text, field=name.strip(), value=value.strip())
        return cls(text=text)

    @classmethod
    def every_job(cls) -> SearchQuery:
        return cls(text="")

    def script_match(self) -> list[str]:
        """What the search script looks for."""
        if self.field is not None:
            value = self.value or ""
            return SearchScript.match_field(self.field, value, json.dumps(value)[1:-1])
        if not self.text:
            return SearchScript.match_all()
        needle = self.text.translate(_ASCII_LOWER)
        # bullmq stores payloads with json.dumps, which writes "ü" as "\\u00fc".
        escaped = json.dumps(self.text)[1:-1].translate(_ASCII_LOWER)
        fold = any(char in string.ascii_letters for char in self.text)
        return SearchScript.match_text(
            fold, needle, escaped if escaped != needle else "", sorted(self.references)
        )


# A cursor's offset: ASCII digits only ("²".isdigit() is true, and int() refuses it).
_OFFSET = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class SearchCursor:
    """Where a search stopped: a state and how many of its jobs (newest first) were read."""

    state: str
    offset: int

    def __str__(self) -> str:
        return f"{self.state}:{self.offset}"

    @classmethod
    def parse(cls, raw: str) -> SearchCursor | None:
        """The cursor `raw` spells, or None for anything else (the search starts over)."""
        state, _, offset = raw.partition(":")
        if state in SEARCH_STATES and _OFFSET.fullmatch(offset):
            return cls(state, int(offset))
        return None


@dataclass(frozen=True)
class SearchResult:
    """Matches (newest first within each state) and how much of the queue was searched."""

    query: SearchQuery
    rows: list[JobSummary]
    scanned: int
    total: int  # jobs in the searched states when the search began
    next_cursor: SearchCursor | None  # None: everything from the start cursor on was read
    by_id: bool = False  # found as a job id; names and payloads were not read yet
    # Only this Kanzlei's jobs were looked for. `scanned` and `total` then count every
    # Kanzlei's jobs, which are not its ADMIN's to know: pages do not show them.
    kanzlei_id: int | None = None


class JobSearch:
    """Searches the jobs of a queue; holds the search script registered on its Redis client."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._script = SearchScript(redis)

    async def search(
        self,
        queue: Queue,
        counts: QueueCounts,
        query: SearchQuery,
        *,
        cursor: SearchCursor | None = None,
        states: Sequence[str] = SEARCH_STATES,
        kanzlei_id: int | None = None,
        budget: int = SEARCH_BUDGET,
        limit: int = SEARCH_RESULTS,
        seconds: float = SEARCH_SECONDS,
    ) -> SearchResult:
        """Up to `limit` matches in `states`, inspecting at most `budget` jobs (and starting
        no chunk after `seconds`) from `cursor` on; only Kanzlei `kanzlei_id`'s jobs if given.

        `counts` are the whole queue's: they bound the reading. A job id typed exactly is
        answered by one lookup; reading every job for the same text is then offered as the
        next step (the cursor). Jobs move between states while a search runs; one that moves
        meanwhile may be missed or found twice.
        """
        total = sum(counts.counts[state] for state in states)
        if query.field is None and cursor is None and query.text:
            found_by_id = await self._by_id(queue, query.text, states, kanzlei_id)
            if found_by_id is not None:
                return SearchResult(
                    query=query,
                    rows=await self._rows(queue, found_by_id),
                    scanned=0,
                    total=total,
                    next_cursor=SearchCursor(states[0], 0),
                    by_id=True,
                    kanzlei_id=kanzlei_id,
                )
        if cursor is not None and cursor.state not in states:
            cursor = None  # a cursor into another list: start over
        found: dict[str, str] = {}
        match = query.script_match()
        deadline = time.monotonic() + seconds
        scanned = 0
        next_cursor: SearchCursor | None = None
        start = states.index(cursor.state) if cursor else 0

        def done() -> bool:
            return len(found) >= limit or scanned >= budget or time.monotonic() > deadline

        for position, state in enumerate(states[start:], start):
            offset = cursor.offset if cursor and position == start else 0
            if done():
                if offset < counts.counts[state]:
                    next_cursor = SearchCursor(state, offset)
                    break
                continue
            while offset < counts.counts[state] and not done():
                size = min(SEARCH_CHUNK, budget - scanned)
                taken, hits = await self._script.chunk(
                    queue, state, offset, size, kanzlei_id, match
                )
                if not taken:
                    break
                for index, job_id in hits:
                    if len(found) >= limit:
                        # Resume right after the last match shown.
                        taken = index
                        break
                    found.setdefault(job_id, state)
                scanned += taken
                offset += taken
            if offset < counts.counts[state] and done():
                next_cursor = SearchCursor(state, offset)
                break
        rows = await self._rows(queue, found)
        return SearchResult(
            query=query,
            rows=rows,
            scanned=scanned,
            total=total,
            next_cursor=next_cursor,
            kanzlei_id=kanzlei_id,
        )

    async def _by_id(
        self, queue: Queue, text: str, states: Sequence[str], kanzlei_id: int | None
    ) -> dict[str, str] | None:
        """{id: state} if `text` is the id of a job in `states` (and of the Kanzlei, if given)."""
        if not is_job_id(queue.name, text):
            return None
        state = await queue.getJobState(text)
        if state not in states:
            return None
        if kanzlei_id is not None:
            data = await bullmq_adapter.read_job_data(self.redis, queue, text)
            if job_owner(queue.name, _json(data)).kanzlei_id != kanzlei_id:
                return None
        return {text: state}

    async def _rows(self, queue: Queue, found: Mapping[str, str]) -> list[JobSummary]:
        if not found:
            return []
        hashes = await bullmq_adapter.read_job_hashes(self.redis, queue, found)
        return [
            summarize_job(job_id, fields, state)
            for (job_id, state), fields in zip(found.items(), hashes, strict=True)
            if fields  # removed since it matched
        ]


# --- lenient parsing ---------------------------------------------------------------------


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _id(value: Any) -> int | None:
    """A positive integer id from a payload (JSON true is no id)."""
    return value if type(value) is int and value > 0 else None


def _seconds(milliseconds: Any) -> float | None:
    number = _int(milliseconds)
    return number / 1000 if number else None
