"""`/admin/jobs` editing: add a job (or duplicate one), change a waiting job's data, run a
completed job again, start every delayed job, pause or resume every queue, delete a queue
that no code declares.

Who may: `ailawyer.jobs.access` (the operator everywhere; a Kanzlei's ADMIN adds, duplicates
and edits its own Kanzlei's jobs in the queues of Kanzlei jobs, forced to its Kanzlei and to
what it may see); every queue-level action is the operator's (`requires_operator`). The
forms check a job's data against the queue's payload model and answer in German on the form
(422) without adding anything. Whatever touches many jobs asks first, on a confirmation page
(or in the page's dialog) that says how many. Every change is audited, in the log of the
Kanzlei whose job it touched, installation-wide actions without one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from bullmq import Job
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from ailawyer.app.web.admin.jobs import editing, payload_form
from ailawyer.app.web.admin.jobs.actions import ActionRefused
from ailawyer.app.web.admin.jobs.payload_form import PayloadRefused
from ailawyer.app.web.admin.jobs.route_support import (
    BASE,
    audit,
    audit_bulk,
    back_to,
    confirmed_up_to,
    enforce,
    find_job,
    int_or_none,
    job_url,
    known_queue,
    queue_url,
    render_page,
)
from ailawyer.app.web.authentication import requires_operator
from ailawyer.app.web.dependencies import ServicesDep, request_db_session
from ailawyer.app.web.forms import FormData
from ailawyer.domain.audit import AuditAction, AuditTarget
from ailawyer.jobs.access import JobOwner, kanzlei_of_new_job, may_add_jobs
from ailawyer.jobs.bullmq_adapter import DATA_EDITABLE_STATES, read_counts
from ailawyer.jobs.catalog import QueueDefinition
from ailawyer.services import Services

# The longest delay a new job may get: a year.
MAX_DELAY_SECONDS = 365 * 24 * 3600


def _page(request: Request[Any, Any, Any], template: str, **context: Any) -> Template:
    return render_page(request, template, nav_active="admin", admin_active="jobs", **context)


async def _definition(
    request: Request[Any, Any, Any], services: Services, queue: str
) -> QueueDefinition[Any]:
    """The declared queue of a URL whose jobs `user` may add (404: no payload model to check
    data against; 403: not theirs)."""
    await known_queue(request, services, queue)
    definition = services.jobs.definitions.get(queue)
    if definition is None:
        raise NotFoundException("no payload model for this queue")
    enforce(may_add_jobs(request.user, queue), "queue")
    return definition


def _data_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


# --- add and duplicate ---------------------------------------------------------------------


def _add_form(
    request: Request[Any, Any, Any],
    definition: QueueDefinition[Any],
    *,
    data_text: str,
    delay: str = "",
    source: Job | None = None,
    errors: list[str] | None = None,
) -> Template:
    return _page(
        request,
        "admin/jobs/add.html",
        queue_name=definition.name,
        queue_label=definition.label,
        fields=payload_form.describe(definition.payload_type),
        data_text=data_text,
        delay=delay,
        source_id=None if source is None else str(source.id),
        forced_kanzlei=kanzlei_of_new_job(request.user, definition.name),
        errors=errors or [],
        max_delay=MAX_DELAY_SECONDS,
        status_code=HTTP_422_UNPROCESSABLE_ENTITY if errors else 200,
    )


@get("/jobs/queues/{queue:str}/add", name="admin-jobs-add")
async def add_form(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    vorlage: FromQuery[str] = "",
) -> Template:
    """The form to add a job: the payload model's fields and its data as JSON; with
    `vorlage`, prefilled with that job's data (duplicate)."""
    definition = await _definition(request, services, queue)
    if not vorlage:
        return _add_form(
            request, definition, data_text=payload_form.example(definition.payload_type)
        )
    source, _owner = await find_job(request, services, queue, vorlage)
    return _add_form(request, definition, data_text=_data_text(source.data), source=source)


def _delay_ms(text: str) -> int:
    """The form's delay in seconds as milliseconds ("" is none), or PayloadRefused."""
    text = text.strip().replace(",", ".")
    try:
        seconds = float(text) if text else 0.0
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_DELAY_SECONDS:
        raise PayloadRefused(["Die Verzögerung muss zwischen 0 Sekunden und 365 Tagen liegen."])
    return round(seconds * 1000)


@post("/jobs/queues/{queue:str}/add", name="admin-jobs-add-submit")
async def add_submit(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    data: FormData,
    vorlage: FromQuery[str] = "",
) -> Template | Redirect:
    """Add the job the form describes (a copy of `vorlage`, if given), once its data passed
    the queue's payload model and the access rules."""
    definition = await _definition(request, services, queue)
    source: Job | None = None
    if vorlage:
        source, _owner = await find_job(request, services, queue, vorlage)
    text, delay = str(data.get("daten", "")), str(data.get("verzoegerung", ""))
    db = request_db_session(request.scope)
    try:
        values = payload_form.parse_object(text)
        delay_ms = _delay_ms(delay)
        payload = await editing.checked_payload(db, request.user, definition, values)
        job = await editing.add_job(services, queue, payload, delay_ms)
    except PayloadRefused as refused:
        return _add_form(
            request, definition, data_text=text, delay=delay, source=source, errors=refused.messages
        )
    job_id = str(job.id)
    details: dict[str, Any] = {"queue": queue, "jobId": job_id, "data": payload.to_job_data()}
    if delay_ms:
        details["delayMs"] = delay_ms
    if source is not None:
        details["sourceJobId"] = str(source.id)
    await audit(
        request,
        services,
        AuditAction.JOB_ADD if source is None else AuditAction.JOB_DUPLICATE,
        AuditTarget.JOB,
        f"{queue}/{job_id}",
        details,
        kanzlei_id=payload.kanzlei_id if definition.kanzlei_jobs else None,
    )
    return Redirect(job_url(queue, job_id) + "?hinweis=added", status_code=HTTP_303_SEE_OTHER)


# --- a waiting job's data ------------------------------------------------------------------


async def _editable_job(
    request: Request[Any, Any, Any], services: Services, queue: str, job_id: str
) -> tuple[QueueDefinition[Any], Job, JobOwner]:
    """The job of a URL (404/403 as on its page) and its queue's declaration (404 without:
    no payload model to check new data against)."""
    job, owner = await find_job(request, services, queue, job_id)
    definition = services.jobs.definitions.get(queue)
    if definition is None:
        raise NotFoundException("no payload model for this queue")
    return definition, job, owner


def _edit_form(
    request: Request[Any, Any, Any],
    definition: QueueDefinition[Any],
    job: Job,
    state: str,
    *,
    data_text: str,
    errors: list[str] | None = None,
) -> Template:
    return _page(
        request,
        "admin/jobs/edit.html",
        queue_name=definition.name,
        job_id=str(job.id),
        state=state,
        fields=payload_form.describe(definition.payload_type),
        data_text=data_text,
        forced_kanzlei=kanzlei_of_new_job(request.user, definition.name),
        errors=errors or [],
        status_code=HTTP_422_UNPROCESSABLE_ENTITY if errors else 200,
    )


@get("/jobs/queues/{queue:str}/jobs/{job_id:str}/edit", name="admin-jobs-job-edit")
async def edit_form(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
) -> Template | Redirect:
    """The form to change the data of a job that has not started."""
    definition, job, _owner = await _editable_job(request, services, queue, job_id)
    state = str(await job.getState())
    if state not in DATA_EDITABLE_STATES:
        return back_to({}, job_url(queue, job_id), hinweis="not-waiting")
    return _edit_form(request, definition, job, state, data_text=_data_text(job.data))


@post("/jobs/queues/{queue:str}/jobs/{job_id:str}/edit", name="admin-jobs-job-edit-submit")
async def edit_submit(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
    data: FormData,
) -> Template | Redirect:
    """Replace a waiting or delayed job's data, checked like a new job's."""
    definition, job, owner = await _editable_job(request, services, queue, job_id)
    text = str(data.get("daten", ""))
    db = request_db_session(request.scope)
    try:
        values = payload_form.parse_object(text)
        payload = await editing.checked_payload(db, request.user, definition, values)
        await editing.change_data(services, queue, job, payload)
    except PayloadRefused as refused:
        state = str(await job.getState())
        return _edit_form(request, definition, job, state, data_text=text, errors=refused.messages)
    except ActionRefused as refused:
        return back_to({}, job_url(queue, job_id), hinweis=refused.reason)
    after = payload.to_job_data()
    details = {"queue": queue, "jobId": job_id, "before": job.data, "after": after}
    # In the log of the Kanzlei whose job it was, and of the one it is now, if another.
    logs = [owner.kanzlei_id]
    if definition.kanzlei_jobs and payload.kanzlei_id != owner.kanzlei_id:
        logs.append(payload.kanzlei_id)
    for kanzlei_id in logs:
        await audit(
            request,
            services,
            AuditAction.JOB_CHANGE_DATA,
            AuditTarget.JOB,
            f"{queue}/{job_id}",
            details,
            kanzlei_id=kanzlei_id,
        )
    return Redirect(
        job_url(queue, job_id) + "?hinweis=data-changed", status_code=HTTP_303_SEE_OTHER
    )


# --- a completed job again -----------------------------------------------------------------


@post("/jobs/queues/{queue:str}/jobs/{job_id:str}/rerun", name="admin-jobs-job-rerun")
async def rerun(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    job_id: FromPath[str],
    data: FormData,
) -> Redirect:
    """Run a completed job again (bullmq's retry from "completed")."""
    job, owner = await find_job(request, services, queue, job_id)
    try:
        await editing.rerun_completed(services, queue, job, owner.kanzlei_id)
    except ActionRefused as refused:
        return back_to(data, job_url(queue, job_id), hinweis=refused.reason)
    await audit(
        request,
        services,
        AuditAction.JOB_RERUN,
        AuditTarget.JOB,
        f"{queue}/{job_id}",
        {"queue": queue, "jobId": job_id},
        kanzlei_id=owner.kanzlei_id,
    )
    return back_to(data, job_url(queue, job_id), hinweis="rerun")


# --- queue-level: confirm first --------------------------------------------------------------


def _confirmation(
    request: Request[Any, Any, Any],
    *,
    action: str,
    action_url: str,
    back: str,
    count: int,
    queue_name: str | None = None,
    **context: Any,
) -> Template:
    """A question before a queue-level action: a page, or the page's dialog (jobs.js)."""
    dialog = request.headers.get("x-confirm-dialog") == "1"
    return _page(
        request,
        "admin/jobs/_confirm_action.html" if dialog else "admin/jobs/confirm_action.html",
        action=action,
        action_url=action_url,
        back=back,
        count=count,
        queue_name=queue_name,
        dialog=dialog,
        up_to_ms=round(time.time() * 1000),
        **context,
    )


@get(
    "/jobs/queues/{queue:str}/promote-all",
    name="admin-jobs-promote-all-confirm",
    guards=[requires_operator],
)
async def promote_all_confirm(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str]
) -> Template:
    """Ask before starting every delayed job of the queue, saying how many."""
    await known_queue(request, services, queue)
    return _confirmation(
        request,
        action="promote-all",
        action_url=queue_url(queue) + "/promote-all",
        back=queue_url(queue, status="delayed"),
        count=await editing.delayed_count(services, queue),
        queue_name=queue,
    )


@post(
    "/jobs/queues/{queue:str}/promote-all",
    name="admin-jobs-promote-all",
    guards=[requires_operator],
)
async def promote_all(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str], data: FormData
) -> Redirect:
    """Start every delayed job of the queue now (after the confirmation)."""
    await known_queue(request, services, queue)
    confirmed_up_to(data)  # only after a confirmation
    outcome = await editing.promote_all(services, queue)
    await audit_bulk(
        request,
        services,
        AuditAction.QUEUE_PROMOTE_ALL,
        queue,
        outcome,
        {"confirmedCount": int_or_none(data.get("anzahl"))},
    )
    return back_to(
        data, queue_url(queue, status="delayed"), hinweis="promoted-all", anzahl=outcome.count
    )


async def _pause_all_confirm(
    request: Request[Any, Any, Any], services: Services, paused: bool
) -> Template:
    names = await services.jobs.known(fresh=True)
    action = "pause-all" if paused else "resume-all"
    return _confirmation(
        request,
        action=action,
        action_url=f"{BASE}/{action}",
        back=BASE,
        count=len(names),
        queue_names=names,
    )


async def _pause_all(
    request: Request[Any, Any, Any], services: Services, data: Mapping[str, Any], paused: bool
) -> Redirect:
    confirmed_up_to(data)  # only after a confirmation
    names = await editing.set_all_paused(services, paused)
    await audit(
        request,
        services,
        AuditAction.QUEUE_PAUSE_ALL if paused else AuditAction.QUEUE_RESUME_ALL,
        AuditTarget.QUEUE,
        "*",
        {"queues": names},
        kanzlei_id=None,
    )
    return back_to(data, BASE, hinweis="paused-all" if paused else "resumed-all")


@get("/jobs/pause-all", name="admin-jobs-pause-all-confirm", guards=[requires_operator])
async def pause_all_confirm(request: Request[Any, Any, Any], services: ServicesDep) -> Template:
    """Ask before pausing every queue."""
    return await _pause_all_confirm(request, services, True)


@post("/jobs/pause-all", name="admin-jobs-pause-all", guards=[requires_operator])
async def pause_all(
    request: Request[Any, Any, Any], services: ServicesDep, data: FormData
) -> Redirect:
    """Pause every queue, declared or found (running jobs finish)."""
    return await _pause_all(request, services, data, True)


@get("/jobs/resume-all", name="admin-jobs-resume-all-confirm", guards=[requires_operator])
async def resume_all_confirm(request: Request[Any, Any, Any], services: ServicesDep) -> Template:
    """Ask before resuming every queue."""
    return await _pause_all_confirm(request, services, False)


@post("/jobs/resume-all", name="admin-jobs-resume-all", guards=[requires_operator])
async def resume_all(
    request: Request[Any, Any, Any], services: ServicesDep, data: FormData
) -> Redirect:
    """Resume every queue."""
    return await _pause_all(request, services, data, False)


async def _obliterate_page(
    request: Request[Any, Any, Any], services: Services, queue: str, error: str | None = None
) -> Template:
    counts = (await read_counts(services.jobs.queue(queue))).counts
    template = _confirmation(
        request,
        action="obliterate",
        action_url=queue_url(queue) + "/obliterate",
        back=queue_url(queue),
        count=sum(counts.values()),
        queue_name=queue,
        declared=queue in services.jobs.definitions,
        active=counts["active"],
        error=error,
    )
    if error:
        template.status_code = HTTP_422_UNPROCESSABLE_ENTITY
    return template


@get(
    "/jobs/queues/{queue:str}/obliterate",
    name="admin-jobs-obliterate-confirm",
    guards=[requires_operator],
)
async def obliterate_confirm(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str]
) -> Template:
    """Ask before deleting a queue: how many jobs it holds, and its name typed to confirm."""
    await known_queue(request, services, queue)
    return await _obliterate_page(request, services, queue)


@post(
    "/jobs/queues/{queue:str}/obliterate", name="admin-jobs-obliterate", guards=[requires_operator]
)
async def obliterate(
    request: Request[Any, Any, Any], services: ServicesDep, queue: FromPath[str], data: FormData
) -> Template | Redirect:
    """Delete a queue no code declares, with all its jobs, once its name was typed."""
    await known_queue(request, services, queue)
    if queue not in services.jobs.definitions and str(data.get("name", "")).strip() != queue:
        return await _obliterate_page(
            request,
            services,
            queue,
            "Der eingegebene Name stimmt nicht mit dem der Warteschlange überein.",
        )
    try:
        held = await editing.obliterate(services, queue)
    except ActionRefused as refused:
        return back_to({}, queue_url(queue), hinweis=refused.reason)
    await audit(
        request,
        services,
        AuditAction.QUEUE_OBLITERATE,
        AuditTarget.QUEUE,
        queue,
        {"jobs": held},
        kanzlei_id=None,
    )
    return Redirect(f"{BASE}?hinweis=obliterated", status_code=HTTP_303_SEE_OTHER)


editing_routes = [
    add_form,
    add_submit,
    edit_form,
    edit_submit,
    rerun,
    promote_all_confirm,
    promote_all,
    pause_all_confirm,
    pause_all,
    resume_all_confirm,
    resume_all,
    obliterate_confirm,
    obliterate,
]
