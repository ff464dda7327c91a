"""`/admin/audit`: who changed what and when, newest first, filtered by action and user."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from ailawyer.app.web.admin.audit.details import details_of, target_name
from ailawyer.app.web.dependencies import DbSessionDep
from ailawyer.app.web.templating import render
from ailawyer.db.models import MAX_ID
from ailawyer.domain.audit import (
    AuditAction,
    action_label,
    audit_actors,
    audit_scope_of,
    list_audit,
    recorded_actions,
)

PER_PAGE = 50
# Beyond this, the page's offset would not fit the database's integers.
MAX_PAGE = MAX_ID // PER_PAGE


@get("/audit", name="admin-audit")
async def audit_page(
    request: Request[Any, Any, Any],
    db: DbSessionDep,
    # Action values are dotted words; anything else (a NUL byte would fail in PostgreSQL)
    # is an invalid request, not a filter.
    aktion: Annotated[str, QueryParameter(pattern=r"^[\w.:-]*$", max_length=100)] = "",
    benutzer: Annotated[int | None, QueryParameter(ge=1, le=MAX_ID)] = None,
    seite: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
) -> Template:
    """One page of the audit log, newest first, filtered by action and user.

    A Kanzlei's ADMIN reads its own Kanzlei's log, which also holds what the operator did to
    its jobs and people; the operator reads every entry, installation-wide ones included.
    """
    user = request.user
    kanzlei_id = audit_scope_of(user)
    page = await list_audit(
        db, kanzlei_id, action=aktion or None, user_id=benutzer, page=seite, per_page=PER_PAGE
    )
    users = await audit_actors(db, kanzlei_id)
    recorded = await recorded_actions(db, kanzlei_id)
    # Declared actions first (in declaration order), then any only found in old entries.
    declared = [action.value for action in AuditAction]
    actions = [(value, action_label(value)) for value in declared]
    actions += [(value, value) for value in recorded if value not in declared]

    def page_url(number: int) -> str:
        params = {"aktion": aktion, "benutzer": benutzer or "", "seite": number}
        return "/admin/audit?" + urlencode({key: value for key, value in params.items() if value})

    return render(
        request,
        "admin/audit/index.html",
        page=page,
        users=users,
        actions=actions,
        selected_action=aktion,
        selected_user=benutzer,
        page_url=page_url,
        details_of=details_of,
        target_name=target_name,
        every_kanzlei=kanzlei_id is None,
        nav_active="admin",
        admin_active="protokoll",
    )
