"""`/admin/jobs/queues/<queue>/schedulers`: a queue's job schedulers, changed or removed.

The operator's alone (`requires_operator`): a scheduler makes jobs for whoever its template
names. Each is listed with its interval or pattern, next and last run and template; ours
(the `system` queue's maintenance) are marked "vom System": the worker restores them. A
change or removal is audited installation-wide; removing asks first.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from ailawyer.app.web.admin.jobs import schedulers
from ailawyer.app.web.admin.jobs.payload_form import PayloadRefused
from ailawyer.app.web.admin.jobs.route_support import (
    audit,
    back_to,
    known_queue,
    notice_from,
    queue_url,
    render_page,
)
from ailawyer.app.web.admin.jobs.schedulers import SchedulerView
from ailawyer.app.web.authentication import requires_operator
from ailawyer.app.web.dependencies import ServicesDep
from ailawyer.app.web.forms import FormData
from ailawyer.domain.audit import AuditAction, AuditTarget
from ailawyer.services import Services

# The audit log's target ids are short; the full id is in the details.
TARGET_ID_CHARS = 200


def schedulers_url(queue: str, scheduler_id: str | None = None, suffix: str = "") -> str:
    """The queue's schedulers page, or one scheduler's page (or one of its actions)."""
    path = queue_url(queue) + "/schedulers"
    if scheduler_id is None:
        return path
    return f"{path}/{quote(scheduler_id, safe='')}{suffix}"


def _page(request: Request[Any, Any, Any], template: str, **context: Any) -> Template:
    return render_page(
        request,
        template,
        schedulers_url=schedulers_url,
        nav_active="admin",
        admin_active="jobs",
        **context,
    )


async def _scheduler(
    request: Request[Any, Any, Any], services: Services, queue: str, scheduler_id: str
) -> SchedulerView:
    await known_queue(request, services, queue)
    view = await schedulers.read_view(services, queue, scheduler_id)
    if view is None:
        raise NotFoundException("unknown scheduler")
    return view


async def _audit_scheduler(
    request: Request[Any, Any, Any],
    services: Services,
    action: AuditAction,
    view: SchedulerView,
    details: dict[str, Any],
) -> None:
    await audit(
        request,
        services,
        action,
        AuditTarget.SCHEDULER,
        f"{view.queue}/{view.id}"[:TARGET_ID_CHARS],
        {"queue": view.queue, "scheduler": view.id, "system": view.system, **details},
        kanzlei_id=None,
    )


def _repeat_of(view: SchedulerView) -> dict[str, Any]:
    record = view.record
    if record.every_ms:
        return {"every": record.every_ms}
    return {"pattern": record.pattern, "tz": record.tz}


@get(
    "/jobs/queues/{queue:str}/schedulers",
    name="admin-jobs-schedulers",
    guards=[requires_operator],
)
async def schedulers_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    hinweis: FromQuery[str] = "",
) -> Template:
    """Every job scheduler of the queue, soonest next run first."""
    await known_queue(request, services, queue)
    total, views = await schedulers.read_views(services, queue)
    return _page(
        request,
        "admin/jobs/schedulers.html",
        queue_name=queue,
        total=total,
        views=views,
        notice=notice_from(hinweis, None),
        now=time.time(),
    )


def _scheduler_form(
    request: Request[Any, Any, Any],
    view: SchedulerView,
    zone: str,
    *,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
) -> Template:
    record = view.record
    values = form or {
        "art": "muster" if record.pattern else "intervall",
        "sekunden": "" if record.every_ms is None else f"{record.every_ms / 1000:g}",
        "muster": record.pattern or "",
    }
    return _page(
        request,
        "admin/jobs/scheduler.html",
        queue_name=view.queue,
        view=view,
        values=values,
        zone=record.tz or zone,
        errors=errors or [],
        now=time.time(),
        status_code=HTTP_422_UNPROCESSABLE_ENTITY if errors else 200,
    )


@get(
    "/jobs/queues/{queue:str}/schedulers/{scheduler_id:str}",
    name="admin-jobs-scheduler",
    guards=[requires_operator],
)
async def scheduler_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    scheduler_id: FromPath[str],
) -> Template:
    """One scheduler, with the form to change its interval or pattern."""
    view = await _scheduler(request, services, queue, scheduler_id)
    return _scheduler_form(request, view, services.settings.time_zone)


@post(
    "/jobs/queues/{queue:str}/schedulers/{scheduler_id:str}",
    name="admin-jobs-scheduler-change",
    guards=[requires_operator],
)
async def change_scheduler(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    scheduler_id: FromPath[str],
    data: FormData,
) -> Template | Redirect:
    """Give the scheduler another interval or pattern (its template stays)."""
    view = await _scheduler(request, services, queue, scheduler_id)
    zone = services.settings.time_zone
    if view.record.legacy:
        errors = ["Diese ältere Form einer Wiederholung lässt sich hier nicht ändern."]
        return _scheduler_form(request, view, zone, form=dict(data), errors=errors)
    try:
        repeat = schedulers.repeat_from_form(dict(data), view.record, zone)
        await schedulers.change(services, view, repeat)
    except PayloadRefused as refused:
        return _scheduler_form(request, view, zone, form=dict(data), errors=refused.messages)
    await _audit_scheduler(
        request,
        services,
        AuditAction.SCHEDULER_CHANGE,
        view,
        {"before": _repeat_of(view), "after": repeat},
    )
    return back_to({}, schedulers_url(queue), hinweis="scheduler-changed")


@get(
    "/jobs/queues/{queue:str}/schedulers/{scheduler_id:str}/remove",
    name="admin-jobs-scheduler-remove-confirm",
    guards=[requires_operator],
)
async def remove_confirm(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    scheduler_id: FromPath[str],
) -> Template:
    """Ask before removing a scheduler (and its next run)."""
    view = await _scheduler(request, services, queue, scheduler_id)
    dialog = request.headers.get("x-confirm-dialog") == "1"
    return _page(
        request,
        "admin/jobs/_confirm_action.html" if dialog else "admin/jobs/confirm_action.html",
        action="scheduler-remove",
        action_url=schedulers_url(queue, scheduler_id, "/remove"),
        back=schedulers_url(queue),
        count=1,
        queue_name=queue,
        scheduler=view,
        dialog=dialog,
        up_to_ms=round(time.time() * 1000),
    )


@post(
    "/jobs/queues/{queue:str}/schedulers/{scheduler_id:str}/remove",
    name="admin-jobs-scheduler-remove",
    guards=[requires_operator],
)
async def remove_scheduler(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    queue: FromPath[str],
    scheduler_id: FromPath[str],
    data: FormData,
) -> Redirect:
    """Remove a scheduler and its next run; ours come back when a worker starts."""
    view = await _scheduler(request, services, queue, scheduler_id)
    if view.record.legacy:
        return back_to({}, schedulers_url(queue), hinweis="scheduler-legacy")
    if not await schedulers.remove(services, queue, scheduler_id):
        return back_to({}, schedulers_url(queue), hinweis="scheduler-gone")
    await _audit_scheduler(
        request, services, AuditAction.SCHEDULER_REMOVE, view, {"repeat": _repeat_of(view)}
    )
    return back_to({}, schedulers_url(queue), hinweis="scheduler-removed")


scheduler_routes = [
    schedulers_page,
    scheduler_page,
    change_scheduler,
    remove_confirm,
    remove_scheduler,
]
