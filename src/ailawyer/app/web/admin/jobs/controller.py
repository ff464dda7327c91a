"""`/admin/jobs`: the job explorer — queues, job lists, one job, search, actions, metrics.

Pages render complete on the server; `static/js/admin/jobs.js` keeps them current from the
`jobs:update` events of the explorer's Socket.IO room (counts patched in place, fragments
fetched again: the `…/list`, `…/detail` and `/admin/jobs/panels` partials). Changes are
POST forms that redirect back (303) with a notice; the bulk ones and removal first show a
confirmation (a page, or the same fragment in a <dialog>) that says how many jobs they
touch, and touch only the jobs that confirmation counted. Every change is audited, in the
log of the Kanzlei whose jobs it touched (installation-wide ones without a Kanzlei).

Who sees what is asked of `ailawyer.jobs.access` on every route: the operator sees every
queue and job; a Kanzlei's ADMIN the queues of Kanzlei jobs with only its own jobs in their
counts, lists, searches and metrics (another Kanzlei's job id answers 404), and no
queue-level action (403, `requires_operator`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from pydantic import ValidationError

from ailawyer.app.web.admin.jobs import actions, editing
from ailawyer.app.web.admin.jobs.charts import (
    BAR_LABELS,
    PERIOD_LABELS,
    PERIOD_TITLES,
    bars,
    period_from,
)
from ailawyer.app.web.admin.jobs.explorer import (
    CLEANABLE_STATES,
    PER_PAGE,
    STATE_LABELS,
    JobSearch,
    JobSummary,
    QueueOverview,
    SearchCursor,
    SearchQuery,
    SearchResult,
    read_flow,
    read_job,
    read_job_page,
    read_owners,
    read_queue,
    read_queues,
    read_scoped_counts,
)
from ailawyer.app.web.admin.jobs.route_support import (
    BASE,
    audit,
    audit_bulk,
    back_to,
    checked_job_id,
    confirmed_up_to,
    find_job,
    int_or_none,
    job_owner,
    job_scope,
    job_url,
    known_queue,
    notice_from,
    queue_url,
    render_page,
)
from ailawyer.app.web.admin.jobs.search import rows_named_by
from ailawyer.app.web.authentication import requires_operator
from ailawyer.app.web.dependencies import ServicesDep, request_db_session
from ailawyer.app.web.forms import FormData
from ailawyer.domain.audit import AuditAction, AuditTarget
from ailawyer.jobs.access import (
    JobScope,
    Verdict,
    job_verdict,
    may_run_queue_actions,
    queues_in_scope,
)
from ailawyer.jobs.bullmq_adapter import STATES, read_counts
from ailawyer.jobs.catalog import ADMIN_TEST
from ailawyer.jobs.metrics import LAST_HOUR, Period, read_metrics
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

# The actions that ask first (?aktion=… of the confirmation).
CONFIRMATIONS = ("retry-failed", "clean", "remove")
TEST_FAILURES = {
    "never": "Erfolgreich",
    "always": "Schlägt bei jedem Versuch fehl",
    "first-attempt": "Schlägt beim ersten Versuch fehl",
}


# --- overview ----------------------------------------------------------------------------


async def _overview(
    services: Services, scope: JobScope, period: Period, *, fresh: bool
) -> dict[str, Any]:
    """Queues with counts and workers, the workers, and the metrics of `period` (of the
    jobs `scope` sees)."""
    heartbeats = await services.workers.alive()
    queues = await read_queues(services.jobs, heartbeats, fresh=fresh, scope=scope)
    now = time.time()
    metrics = await read_metrics(
        services.redis,
        services.settings.redis_key_prefix,
        [q.name for q in queues],
        now,
        scope.kanzlei_id,
        period,
    )
    return {
        "queues": queues,
        "workers": sorted(
            {w.process.id: w.process for q in queues for w in q.workers}.values(),
            key=lambda process: (process.host or "", process.started_at or 0),
        ),
        "metrics": metrics,
        "charts": {name: bars(m) for name, m in metrics.items()},
        **_period_context(period, lambda key: _with_period(BASE, key)),
        "now": now,
    }


def _with_period(url: str, key: str) -> str:
    """`url` showing the metrics of period `key` (the last hour needs no parameter)."""
    if key == LAST_HOUR.name:
        return url
    return f"{url}{'&' if '?' in url else '?'}zeitraum={key}"


@dataclass(frozen=True)
class PeriodLink:
    """One choice of the metrics' period selector."""

    key: str
    label: str
    url: str
    current: bool


def _period_context(period: Period, url: Callable[[str], str]) -> dict[str, Any]:
    """What the metrics card needs to name its period and offer the others."""
    return {
        "period": period,
        "period_title": PERIOD_TITLES[period.name],
        "period_label": PERIOD_LABELS[period.name],
        "bar_label": BAR_LABELS[period.name],
        "period_links": [
            PeriodLink(key, label, url(key), key == period.name)
            for key, label in PERIOD_LABELS.items()
        ],
    }


@get("/jobs", name="admin-jobs")
async def jobs_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    hinweis: FromQuery[str] = "",
    anzahl: FromQuery[int | None] = None,
    zeitraum: FromQuery[str] = "",
) -> Template:
    """All queues with live counts, their workers and metrics (of the last hour, 24 hours
    or 7 days), and the test job form."""
    return render_page(
        request,
        "admin/jobs/index.html",
        **await _overview(services, job_scope(request), period_from(zeitraum), fresh=True),
        states=STATES,
        state_labels=STATE_LABELS,
        test_failures=TEST_FAILURES,
        test_queue=ADMIN_TEST.name,
        notice=notice_from(hinweis, anzahl),
        nav_active="admin",
        admin_active="jobs",
    )


@get("/jobs/panels", name="admin-jobs-panels")
async def jobs_panels(
    request: Request[Any, Any, Any], services: ServicesDep, zeitraum: FromQuery[str] = ""
) -> Template:
    """The overview's queues, workers and metrics alone (refreshed by the page)."""
    return render_page(
        request,
        "admin/jobs/_overview.html",
        **await _overview(services, job_scope(request), period_from(zeitraum), fresh=False),
        states=STATES,
        state_labels=STATE_LABELS,
    )


@get("/jobs/counts", name="admin-jobs-counts")
async def jobs_counts(request: Request[Any, Any, Any], services: ServicesDep) -> dict[str, Any]:
    """Counts and pause flag of every queue the user sees (JSON): for the page after a
    reconnect, and for a Kanzlei's pages after each live update (which carries none)."""
    scope = job_scope(request)
    names = queues_in_scope(scope, await services.jobs.known())
    counts = await asyncio.gather(*(read_scoped_counts(services.jobs, n, scope) for n in names))
    return {"queues": {n: c.to_json() for n, c in zip(names, counts, strict=True)}}


@post("/jobs/test-job", name="admin-jobs-test-job", guards=[requires_operator])
async def start_test_job(
    request: Request[Any, Any, Any], services: ServicesDep, data: FormData
) -> Redirect:
    """Start a job of the `test` queue with the chosen duration, steps and failure."""
    try:
        payload = AdminTestPayload(
            user_id=request.user.id,
            duration_ms=round(float(str(data.get("dauer", "1")).replace(",", ".")) * 1000),
            steps=int(data.get("schritte", 5)),
            failure=str(data.get("ergebnis", "never")),
        )
    except (ValueError, ValidationError):
        raise ValidationException("Ungültige Angaben für den Testvorgang.") from None
    job = await actions.start_test_job(services, payload)
    await audit(
        request,
        services,
        AuditAction.JOB_TEST_START,
        AuditTarget.JOB,
        f"{ADMIN_TEST.name}/{job.id}",
        {
            "queue": ADMIN_TEST.name,
            "jobId": str(job.id),
            "durationMs": payload.duration_ms,
            "steps": payload.steps,
            "failure": payload.failure,
        },
        kanzlei_id=None,
    )
    return Redirect(
        job_url(ADMIN_TEST.name, str(job.id)) + "?hinweis=test-started",
        status_code=HTTP_303_SEE_OTHER,
    )


# --- one queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueView:
    """What the queue page and its list fragment show, from the query string."""

    queue: QueueOverview
    state: str
    page: int
    q: str
    cursor: str
    period: Period = LAST_HOUR

    def url(self, **changes: Any) -> str:
        """This view's page, with `changes` to its query (page 1 and the last hour are the
        defaults)."""
        params = {
            "status": self.state,
            "seite": self.page,
            "q": self.q,
            "weiter": self.cursor,
            "zeitraum": self.period.name,
        }
        params.update(changes)
        if params["seite"] == 1:
            params["seite"] = None
        if params["zeitraum"] == LAST_HOUR.name:
            params["zeitraum"] = None
        return queue_url(self.queue.name, **params)

    @property
    def list_url(self) -> str:
        """The same view as the fragment the page refreshes."""
        path, _, query = self.url().partition("?")
        return f"{path}/list" + (f"?{query}" if query else "")


async def _queue_context(
    request: Request[Any, Any, Any],
    services: Services,
    queue: str,
    status: str,
    seite: int,
    q: str,
    weiter: str,
    zeitraum: str,
) -> dict[str, Any]:
    await known_queue(request, services, queue)
    scope = job_scope(request)
    overview = await read_queue(services.jobs, await services.workers.alive(), queue, scope)
    state = status if status in STATE_LABELS else "waiting"
    view = QueueView(
        queue=overview,
        state=state,
        page=seite,
        q=q.strip(),
        cursor=weiter,
        period=period_from(zeitraum),
    )
    bull_queue = services.jobs.queue(queue)
    # Searches read the queue by position: bounded by all its jobs, whoever's they are.
    all_counts = overview.counts if scope.everything else await read_counts(bull_queue)
    cursor = SearchCursor.parse(weiter) if weiter else None
    rows: list[JobSummary]
    search: SearchResult | None = None
    listing: SearchResult | None = None
    page = None
    db = request_db_session(request.scope)
    if view.q:
        query = SearchQuery.parse(view.q)
        if query.field is None:
            query = replace(query, references=await rows_named_by(db, query.text, scope))
        search = await JobSearch(services.jobs.redis).search(
            bull_queue,
            all_counts,
            query,
            cursor=cursor,
            kanzlei_id=scope.kanzlei_id,
        )
        rows = search.rows
    elif scope.everything:
        page = await read_job_page(bull_queue, state, overview.counts.counts[state], seite)
        rows = page.rows
    else:
        # A Kanzlei's jobs of one state, newest first: a search without a query, a page at
        # a time from where the last one stopped (their positions are not known ahead).
        listing = await JobSearch(services.jobs.redis).search(
            bull_queue,
            all_counts,
            SearchQuery.every_job(),
            cursor=cursor,
            states=(state,),
            kanzlei_id=scope.kanzlei_id,
            limit=PER_PAGE,
        )
        rows = listing.rows
    owners = await read_owners(db, request.user.kanzlei_id, rows)
    return {
        "view": view,
        "queue": overview,
        "page": page,
        "search": search,
        "listing": listing,
        "rows": rows,
        "owners": owners,
        "states": STATES,
        "state_labels": STATE_LABELS,
        "cleanable": CLEANABLE_STATES,
        "now": time.time(),
    }


@get("/jobs/queues/{queue:str}", name="admin-jobs-queue")
async def queue_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    status: FromQuery[str] = "",
    seite: Annotated[int, QueryParameter(ge=1)] = 1,
    q: FromQuery[str] = "",
    weiter: FromQuery[str] = "",
    hinweis: FromQuery[str] = "",
    anzahl: FromQuery[int | None] = None,
    zeitraum: FromQuery[str] = "",
) -> Template:
    """One queue: counts per state, the jobs of one state (or search results), actions,
    and its metrics of the last hour, 24 hours or 7 days."""
    context = await _queue_context(request, services, queue, status, seite, q, weiter, zeitraum)
    view: QueueView = context["view"]
    now = time.time()
    metrics = await read_metrics(
        services.redis,
        services.settings.redis_key_prefix,
        [queue],
        now,
        job_scope(request).kanzlei_id,
        view.period,
    )
    return render_page(
        request,
        "admin/jobs/queue.html",
        **context,
        metrics=metrics[queue],
        chart=bars(metrics[queue]),
        **_period_context(view.period, lambda key: view.url(zeitraum=key)),
        notice=notice_from(hinweis, anzahl),
        nav_active="admin",
        admin_active="jobs",
    )


@get("/jobs/queues/{queue:str}/list", name="admin-jobs-queue-list")
async def queue_list(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    status: FromQuery[str] = "",
    seite: Annotated[int, QueryParameter(ge=1)] = 1,
    q: FromQuery[str] = "",
    weiter: FromQuery[str] = "",
    zeitraum: FromQuery[str] = "",
) -> Template:
    """The queue page's tabs, actions and list alone (refreshed by the page)."""
    context = await _queue_context(request, services, queue, status, seite, q, weiter, zeitraum)
    return render_page(request, "admin/jobs/_queue_body.html", **context)


@get("/jobs/queues/{queue:str}/confirm", name="admin-jobs-confirm")
async def confirm(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    aktion: FromQuery[str] = "",
    status: FromQuery[str] = "",
    job: FromQuery[str] = "",
    zurueck: FromQuery[str] = "",
) -> Template:
    """Ask before a bulk action or a removal, saying how many jobs it touches.

    The form carries the moment of this count (`bis`); the action touches only jobs of
    up to then, so the number asked about is the number done (give or take jobs that
    finished or were removed in between, which the notice afterwards counts exactly).
    """
    await known_queue(request, services, queue)
    if aktion not in CONFIRMATIONS:
        raise NotFoundException("unknown action")
    if aktion != "remove" and not may_run_queue_actions(request.user):
        raise PermissionDeniedException("Operator required")
    if aktion == "retry-failed":
        status = "failed"  # the only state it acts on
    up_to_ms = round(time.time() * 1000)
    back = zurueck if zurueck.startswith(BASE) else queue_url(queue, status=status)
    context: dict[str, Any] = {
        "queue_name": queue,
        "action": aktion,
        "state": status,
        "state_label": STATE_LABELS.get(status, ""),
        "up_to_ms": up_to_ms,
        "back": back,
        "job_id": job,
    }
    if aktion == "remove":
        await find_job(request, services, queue, job)
        context["count"] = 1
        context["action_url"] = job_url(queue, job, "/remove")
    else:
        try:
            count = await actions.count_affected(services, queue, status, up_to_ms)
        except actions.ActionRefused:
            raise NotFoundException("no such state") from None
        context["count"] = count
        context["action_url"] = queue_url(queue) + f"/{aktion}"
    dialog = request.headers.get("x-confirm-dialog") == "1"
    return render_page(
        request,
        "admin/jobs/_confirm.html" if dialog else "admin/jobs/confirm.html",
        **context,
        dialog=dialog,
        nav_active="admin",
        admin_active="jobs",
    )


@post("/jobs/queues/{queue:str}/pause", name="admin-jobs-pause", guards=[requires_operator])
async def pause_queue(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str], data: FormData
) -> Redirect:
    """Pause a queue for every worker (running jobs finish)."""
    await known_queue(request, services, queue)
    await actions.set_paused(services, queue, True)
    await audit(
        request, services, AuditAction.QUEUE_PAUSE, AuditTarget.QUEUE, queue, {}, kanzlei_id=None
    )
    return back_to(data, queue_url(queue), hinweis="paused")


@post("/jobs/queues/{queue:str}/resume", name="admin-jobs-resume", guards=[requires_operator])
async def resume_queue(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str], data: FormData
) -> Redirect:
    """Resume a paused queue."""
    await known_queue(request, services, queue)
    await actions.set_paused(services, queue, False)
    await audit(
        request, services, AuditAction.QUEUE_RESUME, AuditTarget.QUEUE, queue, {}, kanzlei_id=None
    )
    return back_to(data, queue_url(queue), hinweis="resumed")


@post(
    "/jobs/queues/{queue:str}/retry-failed",
    name="admin-jobs-retry-failed",
    guards=[requires_operator],
)
async def retry_failed(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str], data: FormData
) -> Redirect:
    """Retry every job of the queue that had failed when the confirmation was shown."""
    await known_queue(request, services, queue)
    up_to_ms = confirmed_up_to(data)
    outcome = await actions.retry_failed(
        services, request_db_session(request.scope), queue, up_to_ms
    )
    await audit_bulk(
        request,
        services,
        AuditAction.QUEUE_RETRY_FAILED,
        queue,
        outcome,
        {"confirmedCount": int_or_none(data.get("anzahl")), "upToMs": up_to_ms},
    )
    return back_to(
        data, queue_url(queue, status="failed"), hinweis="retried-all", anzahl=outcome.count
    )


@post("/jobs/queues/{queue:str}/clean", name="admin-jobs-clean", guards=[requires_operator])
async def clean_queue(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str], data: FormData
) -> Redirect:
    """Remove the jobs of one state that were counted by the confirmation."""
    await known_queue(request, services, queue)
    state = str(data.get("status", ""))
    up_to_ms = confirmed_up_to(data)
    try:
        outcome = await actions.clean(services, queue, state, up_to_ms)
    except actions.ActionRefused as refused:
        return back_to(data, queue_url(queue), hinweis=refused.reason)
    await audit_bulk(
        request,
        services,
        AuditAction.QUEUE_CLEAN,
        queue,
        outcome,
        {"state": state, "confirmedCount": int_or_none(data.get("anzahl")), "upToMs": up_to_ms},
    )
    return back_to(data, queue_url(queue, status=state), hinweis="cleaned", anzahl=outcome.count)


# --- one job -----------------------------------------------------------------------------


async def _job_context(
    request: Request[Any, Any, Any], services: Services, queue: str, job_id: str
) -> dict[str, Any]:
    await known_queue(request, services, queue)
    detail = await read_job(services.jobs.queue(queue), checked_job_id(queue, job_id))
    if detail is None:
        raise NotFoundException("unknown job")
    await job_owner(request, services, queue, detail.data)
    db = request_db_session(request.scope)
    owners = await read_owners(db, request.user.kanzlei_id, [detail.summary])
    flow = await read_flow(services.jobs, services.jobs.queue(queue), job_id)
    # Parent and children are shown only where the viewer may open them (jobs.access).
    flow = flow.visible(lambda related: job_verdict(request.user, related.owner) is Verdict.ALLOWED)
    if flow.parent_hidden:
        detail = detail.without_parent()
    return {
        "queue_name": queue,
        "queue_label": getattr(services.jobs.definitions.get(queue), "label", None),
        "job": detail,
        "flow": flow,
        "owners": owners,
        "tools": editing.job_tools(services.jobs.definitions, queue, detail.summary.state),
        "state_labels": STATE_LABELS,
        "now": time.time(),
    }


@get("/jobs/queues/{queue:str}/jobs/{job_id:str}", name="admin-jobs-job")
async def job_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
    hinweis: FromQuery[str] = "",
    anzahl: FromQuery[int | None] = None,
) -> Template:
    """One job: data, options, progress, logs, result or failures per attempt, times."""
    return render_page(
        request,
        "admin/jobs/job.html",
        **await _job_context(request, services, queue, job_id),
        notice=notice_from(hinweis, anzahl),
        nav_active="admin",
        admin_active="jobs",
    )


@get("/jobs/queues/{queue:str}/jobs/{job_id:str}/detail", name="admin-jobs-job-detail")
async def job_detail(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
) -> Template:
    """The job page's content alone (refreshed by the page when the job changes)."""
    return render_page(
        request,
        "admin/jobs/_job_detail.html",
        **await _job_context(request, services, queue, job_id),
    )


async def _job_action(
    request: Request[Any, Any, Any],
    services: Services,
    queue: str,
    job_id: str,
    data: Mapping[str, Any],
    action: AuditAction,
    notice: str,
) -> Redirect:
    job, owner = await find_job(request, services, queue, job_id)
    details: dict[str, Any] = {"queue": queue, "jobId": job_id}
    try:
        if action is AuditAction.JOB_RETRY:
            await actions.retry_job(
                services, request_db_session(request.scope), queue, job, owner.kanzlei_id
            )
        elif action is AuditAction.JOB_REMOVE:
            details["state"] = await actions.remove_job(services, queue, job, owner.kanzlei_id)
        else:
            await actions.promote_job(services, queue, job, owner.kanzlei_id)
    except actions.ActionRefused as refused:
        return back_to(data, job_url(queue, job_id), hinweis=refused.reason)
    # In the job's Kanzlei's log, whoever acted (the operator included).
    await audit(
        request,
        services,
        action,
        AuditTarget.JOB,
        f"{queue}/{job_id}",
        details,
        kanzlei_id=owner.kanzlei_id,
    )
    fallback = job_url(queue, job_id)
    if action is AuditAction.JOB_REMOVE:
        # A removed job has no page any more: back to its queue instead.
        fallback = queue_url(queue)
        if str(data.get("zurueck", "")).startswith(job_url(queue, job_id)):
            data = {}
    return back_to(data, fallback, hinweis=notice)


@post("/jobs/queues/{queue:str}/jobs/{job_id:str}/retry", name="admin-jobs-job-retry")
async def retry_one(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
    data: FormData,
) -> Redirect:
    """Retry one failed job."""
    return await _job_action(
        request, services, queue, job_id, data, AuditAction.JOB_RETRY, "retried"
    )


@post("/jobs/queues/{queue:str}/jobs/{job_id:str}/remove", name="admin-jobs-job-remove")
async def remove_one(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
    data: FormData,
) -> Redirect:
    """Remove one job that is not running (after the confirmation)."""
    return await _job_action(
        request, services, queue, job_id, data, AuditAction.JOB_REMOVE, "removed"
    )


@post("/jobs/queues/{queue:str}/jobs/{job_id:str}/promote", name="admin-jobs-job-promote")
async def promote_one(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
    data: FormData,
) -> Redirect:
    """Start a delayed job now."""
    return await _job_action(
        request, services, queue, job_id, data, AuditAction.JOB_PROMOTE, "promoted"
    )


job_routes = [
    jobs_page,
    jobs_panels,
    jobs_counts,
    start_test_job,
    queue_page,
    queue_list,
    confirm,
    pause_queue,
    resume_queue,
    retry_failed,
    clean_queue,
    job_page,
    job_detail,
    retry_one,
    remove_one,
    promote_one,
]
