"""What every route of the job explorer shares: its URLs and notices, rendering with the
explorer's template helpers, the way back after a form, the access answers (404/403 asked
of `ailawyer.jobs.access`), the job of a URL, and the audit entries of its changes.

The route modules (`controller`, `editing_controller`, `schedulers_controller`) ask this
module instead of each other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from bullmq import Job
from litestar import Request
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from ailawyer.app.web.admin.jobs import actions, editing, schedulers
from ailawyer.app.web.client_address import client_address
from ailawyer.app.web.dependencies import request_db_session
from ailawyer.app.web.templating import duration_de, number_de, render
from ailawyer.domain.audit import AuditAction, AuditTarget, record_audit
from ailawyer.jobs.access import (
    JobOwner,
    JobScope,
    Verdict,
    explorer_scope,
    job_verdict,
    may_run_queue_actions,
    queue_verdict,
    resolve_owner,
)
from ailawyer.jobs.bullmq_adapter import queue_exists
from ailawyer.jobs.job_ids import is_job_id
from ailawyer.jobs.log_lines import read_line
from ailawyer.services import Services

BASE = "/admin/jobs"

# Notices after an action (?hinweis=…&anzahl=…): (alert kind, German text).
NOTICES: Mapping[str, tuple[str, str]] = {
    "retried": ("success", "Der Vorgang wurde erneut gestartet."),
    "removed": ("success", "Der Vorgang wurde entfernt."),
    "promoted": ("success", "Der Vorgang wurde sofort gestartet."),
    "paused": ("success", "Die Warteschlange ist angehalten. Laufende Vorgänge werden beendet."),
    "resumed": ("success", "Die Warteschlange läuft wieder."),
    "retried-all": ("success", "Die fehlgeschlagenen Vorgänge wurden erneut gestartet."),
    "cleaned": ("success", "Die Vorgänge wurden entfernt."),
    "test-started": ("success", "Der Testvorgang wurde gestartet."),
    "not-failed": ("error", "Der Vorgang ist nicht (mehr) fehlgeschlagen."),
    "not-delayed": ("error", "Der Vorgang ist nicht (mehr) verzögert."),
    "locked": ("error", "Ein laufender Vorgang kann nicht entfernt werden."),
    "scheduled": (
        "error",
        "Dies ist der nächste Lauf eines Zeitplans; er wird vom Worker verwaltet.",
    ),
    "invalid": ("error", "Diese Aktion ist hier nicht möglich."),
    **editing.NOTICES,
    **schedulers.NOTICES,
}
# The same notices with the number of jobs (?anzahl=…): (one, several).
COUNTED_NOTICES: Mapping[str, tuple[str, str]] = {
    "retried-all": (
        "1 fehlgeschlagener Vorgang wurde erneut gestartet.",
        "{count} fehlgeschlagene Vorgänge wurden erneut gestartet.",
    ),
    "cleaned": ("1 Vorgang wurde entfernt.", "{count} Vorgänge wurden entfernt."),
    **editing.COUNTED_NOTICES,
}


@dataclass(frozen=True)
class Notice:
    kind: str
    text: str


def notice_from(code: str, count: int | None) -> Notice | None:
    """The notice a redirect asked for; unknown codes show nothing."""
    if code not in NOTICES:
        return None
    kind, text = NOTICES[code]
    if code in COUNTED_NOTICES and count is not None:
        one, several = COUNTED_NOTICES[code]
        text = one if count == 1 else several.format(count=number_de(count))
    return Notice(kind, text)


def queue_url(queue: str, **params: Any) -> str:
    """The queue page (with its non-empty query parameters)."""
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    path = f"{BASE}/queues/{quote(queue, safe='')}"
    return f"{path}?{query}" if query else path


def job_url(queue: str, job_id: str, suffix: str = "") -> str:
    """The job page, or one of its actions (`suffix` like "/retry")."""
    return f"{BASE}/queues/{quote(queue, safe='')}/jobs/{quote(job_id, safe='')}{suffix}"


def from_epoch(seconds: float) -> datetime:
    """A job time (epoch seconds) as a datetime for the date filters."""
    return datetime.fromtimestamp(seconds, UTC)


def ms_de(milliseconds: float | None) -> str:
    """A duration that may be short: "12 ms", "1,5 s", else like duration_de."""
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return f"{number_de(milliseconds)} ms"
    if milliseconds < 60_000:
        return f"{number_de(milliseconds / 1000, 1)} s"
    return duration_de(milliseconds / 1000)


# Every explorer template gets these (see admin/jobs/_macros.html).
HELPERS: Mapping[str, Any] = {
    "job_url": job_url,
    "queue_url": queue_url,
    "from_epoch": from_epoch,
    "ms_de": ms_de,
    "log_line": read_line,
}


def render_page(request: Request[Any, Any, Any], template: str, **context: Any) -> Template:
    """An explorer template with the explorer's helpers and the user's controls."""
    # `operator`: the queue-level controls (pause, clean, retry all, test job, workers).
    operator = may_run_queue_actions(request.user)
    return render(request, template, **HELPERS, operator=operator, **context)


def back_to(form: Mapping[str, Any], fallback: str, **notice: Any) -> Redirect:
    """Back to the page the form came from (only explorer pages), with a notice."""
    target = str(form.get("zurueck") or "")
    own_page = target == BASE or target.startswith(BASE + "/")
    if not own_page or "//" in target or "\\" in target:
        target = fallback
    parts = urlsplit(target)
    # The notice of an earlier action must not come along.
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("hinweis", "anzahl")]
    kept += [(k, str(v)) for k, v in notice.items() if v is not None]
    return Redirect(f"{parts.path}?{urlencode(kept)}", status_code=HTTP_303_SEE_OTHER)


def enforce(verdict: Verdict, what: str) -> None:
    """Answer a refusal: 404 for another Kanzlei's (as if absent), 403 for the operator's."""
    if verdict is Verdict.HIDDEN:
        raise NotFoundException(f"unknown {what}")
    if verdict is Verdict.FORBIDDEN:
        raise PermissionDeniedException("Operator required")


def job_scope(request: Request[Any, Any, Any]) -> JobScope:
    """The jobs the signed-in user sees (the admin guard let only ADMINs and operators in)."""
    scope = explorer_scope(request.user)
    if scope is None:
        raise PermissionDeniedException("Administrator role required")
    return scope


async def known_queue(request: Request[Any, Any, Any], services: Services, queue: str) -> None:
    """404 for a queue that is neither declared nor in Redis, 403 for one of the operator's."""
    if queue not in services.jobs.definitions and not await queue_exists(
        services.jobs.redis, services.jobs.queue(queue)
    ):
        raise NotFoundException(f"unknown queue {queue!r}")
    enforce(queue_verdict(request.user, queue), "queue")


async def job_owner(
    request: Request[Any, Any, Any], services: Services, queue: str, data: Any
) -> JobOwner:
    """Whose job it is; refuses one the user may not see or act on (404 or 403)."""
    db = request_db_session(request.scope)
    owner = await resolve_owner(db, queue, data)
    enforce(job_verdict(request.user, owner), "job")
    return owner


def checked_job_id(queue: str, job_id: str) -> str:
    """404 for an id our queues never issue (bullmq's own keys among them, `jobs.job_ids`)."""
    if not is_job_id(queue, job_id):
        raise NotFoundException("unknown job")
    return job_id


async def find_job(
    request: Request[Any, Any, Any], services: Services, queue: str, job_id: str
) -> tuple[Job, JobOwner]:
    """The job of a URL and whose it is, or 404/403 (`jobs.access.job_verdict`)."""
    await known_queue(request, services, queue)
    job = await services.jobs.get_job(queue, checked_job_id(queue, job_id))
    if job is None:
        raise NotFoundException("unknown job")
    return job, await job_owner(request, services, queue, job.data)


async def audit(
    request: Request[Any, Any, Any],
    services: Services,
    action: AuditAction,
    target_type: AuditTarget,
    target_id: str,
    details: Mapping[str, Any],
    *,
    kanzlei_id: int | None,
) -> None:
    """One entry in the log of Kanzlei `kanzlei_id` (None: installation-wide), whoever acted."""
    db = request_db_session(request.scope)
    await record_audit(
        db,
        user=request.user,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        ip=client_address(request.scope, services.settings.trusted_proxies),
        kanzlei_id=kanzlei_id,
    )
    await db.commit()


async def audit_bulk(
    request: Request[Any, Any, Any],
    services: Services,
    action: AuditAction,
    queue: str,
    outcome: actions.BulkOutcome,
    details: Mapping[str, Any],
) -> None:
    """A bulk action: one installation-wide entry with the whole count, and one per Kanzlei
    whose jobs it touched, with that Kanzlei's count (its ADMIN sees what was done to them)."""
    shares: list[tuple[int | None, int]] = [(None, outcome.count)]
    shares += sorted(outcome.by_kanzlei.items())
    for kanzlei_id, count in shares:
        await audit(
            request,
            services,
            action,
            AuditTarget.QUEUE,
            queue,
            {**details, "count": count},
            kanzlei_id=kanzlei_id,
        )


def confirmed_up_to(data: Mapping[str, Any]) -> int:
    """The confirmation's moment; never later than now (a forged future would touch more)."""
    now_ms = round(time.time() * 1000)
    try:
        return min(int(str(data.get("bis"))), now_ms)
    except ValueError:
        raise ValidationException("Die Bestätigung fehlt. Bitte erneut versuchen.") from None


def int_or_none(value: Any) -> int | None:
    """A form or query value as a number, or None when it is none."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
