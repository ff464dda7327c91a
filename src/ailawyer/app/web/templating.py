"""Jinja2 setup and the one place that builds the context every page shares."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.utils.scope.state import ScopeState

from ailawyer import __version__
from ailawyer.app.web.icons import icon
from ailawyer.notifications.preferences import sign_in_mark
from ailawyer.runtime_settings.definitions import MAINTENANCE_BANNER


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    # SQLite hands back naive datetimes, stored as UTC: never read them as the server's time.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(zone)


def datetime_de(value: datetime | None, zone: ZoneInfo) -> str:
    """28.11.2026, 14:05 in `zone` (TIME_ZONE) — or an em dash for no value."""
    if value is None:
        return "—"
    return f"{_local(value, zone):%d.%m.%Y, %H:%M}"


def number_de(value: float | int | None, decimals: int = 0) -> str:
    """1.234,5 — German thousands and decimal separators."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def timestamp_de(value: datetime | None, zone: ZoneInfo) -> str:
    """28.11.2026, 14:05:09 in `zone` — to the second, where seconds matter (log lines, job
    times, the audit log); milliseconds stay in the machine-readable `datetime` attributes."""
    if value is None:
        return "—"
    return f"{_local(value, zone):%d.%m.%Y, %H:%M:%S}"


def duration_de(seconds: float | None) -> str:
    """A duration in its two largest units: 42 s, 5 Min. 3 s, 2 Std. 5 Min., 3 Tage 4 Std."""
    if seconds is None:
        return "—"
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} {'Tag' if days == 1 else 'Tage'} {hours} Std."
    if hours:
        return f"{hours} Std. {minutes} Min."
    if minutes:
        return f"{minutes} Min. {secs} s"
    return f"{secs} s"


def bytes_de(value: int | None) -> str:
    """A size in binary units with German decimals: "512 B", "1,5 MiB", "12,3 GiB"."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{int(size)} B" if unit == "B" else f"{number_de(size, 1)} {unit}"
        size /= 1024
    return f"{number_de(size, 1)} TiB"


def configure_environment(engine: JinjaTemplateEngine, *, zone: ZoneInfo) -> None:
    """Register our filters and globals on Litestar's Jinja environment; times in `zone`."""
    environment: Environment = engine.engine
    # Templates ship with the code and a process never reloads code: no file stat per render.
    environment.auto_reload = False
    environment.filters["datetime_de"] = partial(datetime_de, zone=zone)
    environment.filters["number_de"] = number_de
    environment.filters["timestamp_de"] = partial(timestamp_de, zone=zone)
    environment.filters["duration_de"] = duration_de
    environment.filters["bytes_de"] = bytes_de
    environment.globals["icon"] = icon
    environment.globals["sign_in_mark"] = sign_in_mark
    environment.globals["version"] = __version__
    # base.html hands it to static/js/format.js, so the browser renders the same wall clock.
    environment.globals["time_zone"] = zone.key


def render(
    request: Request[Any, Any, Any],
    template_name: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """A page response with the shared context (user, firm, CSRF token, banner) merged in."""
    user = request.scope.get("user")
    services = request.app.state.services
    # Litestar's "no token" marker is a truthy enum member, not None: it would be rendered.
    csrf_token = ScopeState.from_scope(request.scope).csrf_token
    shared = {
        "current_user": user,
        "kanzlei_name": user.kanzlei_name if user else services.settings.kanzlei_name,
        "csrf_token": csrf_token if isinstance(csrf_token, str) else "",
        "status_code": status_code,
        # From this process's copy of the runtime settings: no query per page.
        "maintenance_banner": services.runtime_settings.get(MAINTENANCE_BANNER) if user else None,
    }
    return Template(template_name, context={**shared, **context}, status_code=status_code)
