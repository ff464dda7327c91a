"""The admin router: a Kanzlei's ADMIN and the operator enter; the operator's rooms apart.

Who may do what is listed in README ("Who may do what"): Kanzlei-level pages (overview,
users, audit, the Kanzlei's own jobs) are for a Kanzlei's ADMIN and the operator; what acts
on the whole installation (system, logs, runtime settings) is for the operator only. The
job explorer decides per job and per action in `ailawyer.jobs.access`.
"""

from __future__ import annotations

from litestar import Router

from ailawyer.app.web.admin.audit.controller import audit_page
from ailawyer.app.web.admin.jobs.controller import job_routes
from ailawyer.app.web.admin.jobs.editing_controller import editing_routes
from ailawyer.app.web.admin.jobs.schedulers_controller import scheduler_routes
from ailawyer.app.web.admin.overview import admin_index, admin_users
from ailawyer.app.web.admin.settings.controller import (
    reset_setting,
    save_settings,
    settings_page,
    settings_processes,
)
from ailawyer.app.web.admin.system.controller import system_logs, system_page, system_status
from ailawyer.app.web.authentication import requires_admin, requires_operator

installation_router = Router(
    path="/",
    guards=[requires_operator],
    route_handlers=[
        system_page,
        system_status,
        system_logs,
        settings_page,
        settings_processes,
        save_settings,
        reset_setting,
    ],
)

admin_router = Router(
    path="/admin",
    guards=[requires_admin],
    route_handlers=[
        admin_index,
        admin_users,
        audit_page,
        *job_routes,
        *editing_routes,
        *scheduler_routes,
        installation_router,
    ],
)
