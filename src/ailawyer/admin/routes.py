"""The admin router: one guard for every admin page and API."""

from __future__ import annotations

from litestar import Router

from ailawyer.admin.overview import admin_index, admin_users
from ailawyer.app.web.authentication import requires_admin

admin_router = Router(
    path="/admin", guards=[requires_admin], route_handlers=[admin_index, admin_users]
)
