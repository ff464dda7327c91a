"""The admin router: one guard for every admin page and API."""

from __future__ import annotations

from litestar import Router

from ailawyer.admin.audit.controller import audit_page
from ailawyer.admin.overview import admin_index, admin_users
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
    ],
)
