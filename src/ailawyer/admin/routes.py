"""The admin router: one guard for every admin page and API."""

from __future__ import annotations

from litestar import Router

from ailawyer.admin.audit.controller import audit_page
from ailawyer.admin.jobs.controller import job_routes
from ailawyer.admin.overview import admin_index, admin_users
from ailawyer.admin.settings.controller import (
    reset_setting,
    save_settings,
    settings_page,
    settings_processes,
)
from ailawyer.admin.system.controller import system_logs, system_page, system_status
from ailawyer.app.web.authentication import requires_admin

admin_router = Router(
    path="/admin",
    guards=[requires_admin],
    route_handlers=[
        admin_index,
        admin_users,
        system_page,
        system_status,
        system_logs,
        audit_page,
        *job_routes,
        settings_page,
        settings_processes,
        save_settings,
        reset_setting,
    ],
)
