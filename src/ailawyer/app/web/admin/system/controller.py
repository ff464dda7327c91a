"""`/admin/system`: service cards, processes and the log viewer; partials for HTMX polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from litestar import Request, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template

from ailawyer.alerts.incidents import IncidentStore
from ailawyer.app.web.admin.system.log_reader import LEVELS, SOURCES, LogPage, LogQuery, read_logs
from ailawyer.app.web.admin.system.status import process_list, read_queue_backlogs
from ailawyer.app.web.dependencies import ServicesDep
from ailawyer.app.web.templating import render
from ailawyer.health import CHECK_TIMEOUT_SECONDS, check_health
from ailawyer.jobs.options import bull_prefix
from ailawyer.logs import get_logger
from ailawyer.services import Services
from ailawyer.system_facts import read_disks, read_redis_facts

log = get_logger(__name__)
T = TypeVar("T")

PAGE_PATH = "/admin/system"
# Enough for a search term or an id; longer input is cut, not refused.
_MAX_FILTER_LENGTH = 200


@dataclass(frozen=True)
class LogFilters:
    """The log viewer's form, as given in the query string (also the page's own URL)."""

    level: str = "debug"
    source: str = ""
    logger: str = ""
    q: str = ""
    job_id: str = ""
    user_id: str = ""
    live: bool = False

    def query(self) -> LogQuery:
        """What the log reader is asked for."""
        return LogQuery(
            min_level=self.level,
            source=self.source or None,
            logger=self.logger or None,
            text=self.q or None,
            job_id=self.job_id or None,
            user_id=self.user_id or None,
        )

    def url(self, **changes: Any) -> str:
        """The system page with these filters (and `changes`), for links and the address bar."""
        filters = replace(self, **changes)
        params = {
            "level": "" if filters.level == "debug" else filters.level,
            "source": filters.source,
            "logger": filters.logger,
            "q": filters.q,
            "jobId": filters.job_id,
            "userId": filters.user_id,
            "live": "1" if filters.live else "",
        }
        query = urlencode({key: value for key, value in params.items() if value})
        return f"{PAGE_PATH}?{query}#protokoll" if query else f"{PAGE_PATH}#protokoll"


def provide_log_filters(
    level: FromQuery[str] = "debug",
    source: FromQuery[str] = "",
    logger: FromQuery[str] = "",
    q: FromQuery[str] = "",
    job_id: Annotated[str, QueryParameter(name="jobId")] = "",
    user_id: Annotated[str, QueryParameter(name="userId")] = "",
    live: FromQuery[str] = "",
) -> LogFilters:
    """Read the filters leniently: an unknown value means "no filter", never an error page."""

    def clean(value: str) -> str:
        return value.strip()[:_MAX_FILTER_LENGTH]

    return LogFilters(
        level=level.lower() if level.lower() in LEVELS else "debug",
        source=source if source in SOURCES else "",
        logger=clean(logger),
        q=clean(q),
        job_id=clean(job_id),
        user_id=clean(user_id),
        live=live in {"1", "on", "true"},
    )


_log_filters = {"filters": Provide(provide_log_filters, sync_to_thread=False)}
LogFiltersDep = NamedDependency[LogFilters]


@get("/system", name="admin-system", dependencies=_log_filters)
async def system_page(
    request: Request[Any, Any, Any], services: ServicesDep, filters: LogFiltersDep
) -> Template:
    """The whole page: cards, processes, and the log viewer with the filters of the URL."""
    status, logs = await asyncio.gather(
        _system_status(request, services), _read_logs(services, filters)
    )
    return render(
        request,
        "admin/system/index.html",
        **status,
        logs=logs,
        filters=filters,
        levels=LEVELS,
        nav_active="admin",
        admin_active="system",
    )


@get("/system/status", name="admin-system-status")
async def system_status(request: Request[Any, Any, Any], services: ServicesDep) -> Template:
    """The cards and the process list alone, polled by the page."""
    return render(request, "admin/system/_status.html", **await _system_status(request, services))


@get("/system/logs", name="admin-system-logs", dependencies=_log_filters)
async def system_logs(
    request: Request[Any, Any, Any], services: ServicesDep, filters: LogFiltersDep
) -> Template:
    """The log entries alone, for the filter form and the auto-refresh."""
    response = render(
        request,
        "admin/system/_log_entries.html",
        logs=await _read_logs(services, filters),
        filters=filters,
    )
    # A changed filter (not a refresh) shows in the address bar, so reload and links keep it.
    if request.headers.get("hx-trigger") == "log-filter":
        response.headers["HX-Replace-Url"] = filters.url()
    return response


async def _read_logs(services: Services, filters: LogFilters) -> LogPage:
    # File reads block; a thread keeps the event loop serving other requests meanwhile.
    settings = services.settings
    return await asyncio.to_thread(
        read_logs,
        settings.effective_log_dir,
        filters.query(),
        max_scan_bytes=settings.log_viewer_scan_mb * 1024 * 1024,
    )


async def _system_status(request: Request[Any, Any, Any], services: Services) -> dict[str, Any]:
    """Everything the cards and the process table show, gathered concurrently."""
    settings = services.settings

    async def backlogs() -> Any:
        queues = await services.jobs.known()
        return await read_queue_backlogs(services.redis, bull_prefix(settings), queues)

    incidents = IncidentStore(services.redis, settings.redis_key_prefix)
    health, redis_facts, queue_backlogs, apps, workers, disks, opened = await asyncio.gather(
        check_health(services.db, services.redis, services.workers),
        _optional(read_redis_facts(services.redis), "redis facts"),
        _optional(backlogs(), "queue backlogs"),
        _optional(services.apps.alive(), "app heartbeats"),
        _optional(services.workers.alive(), "worker heartbeats"),
        asyncio.to_thread(
            read_disks, {"Protokolle": settings.effective_log_dir, "Uploads": settings.upload_dir}
        ),
        _optional(incidents.open_incidents(), "open incidents"),
    )
    now = time.time()
    return {
        "health": health,
        "redis_facts": redis_facts,
        "backlogs": queue_backlogs,
        "disks": disks,
        "incidents": opened,
        "processes": process_list(apps or [], workers or []),
        "own_process_id": getattr(request.app.state, "process_id", None),
        "now": now,
        "checked_at": datetime.fromtimestamp(now, UTC),
    }


async def _optional(awaitable: Awaitable[T], what: str) -> T | None:
    """The result, or None when Redis is slow or away (the health card already says so)."""
    try:
        return await asyncio.wait_for(awaitable, CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        log.warning("system page could not read", what=what, error=repr(error))
        return None
