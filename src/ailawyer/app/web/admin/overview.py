"""The admin start page (service health at a glance) and the user list."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template
from sqlalchemy import func, select

from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.app.web.templating import render
from ailawyer.db.models import Akte, User
from ailawyer.health import check_health, public_report


@get("/", name="admin-index")
async def admin_index(
    request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep
) -> Template:
    kanzlei_id = request.user.kanzlei_id
    report = await check_health(services.db, services.redis, services.workers)
    if not request.user.is_operator:
        # The reasons name hosts and ports of the installation: the operator's business.
        report = public_report(report)
    user_count = await db.scalar(
        select(func.count()).select_from(User).where(User.kanzlei_id == kanzlei_id)
    )
    akten_count = await db.scalar(
        select(func.count()).select_from(Akte).where(Akte.kanzlei_id == kanzlei_id)
    )
    return render(
        request,
        "admin/index.html",
        health=report,
        user_count=user_count,
        akten_count=akten_count,
        nav_active="admin",
        admin_active="uebersicht",
    )


@get("/benutzer", name="admin-users")
async def admin_users(request: Request[Any, Any, Any], db: DbSessionDep) -> Template:
    users = (
        await db.scalars(
            select(User).where(User.kanzlei_id == request.user.kanzlei_id).order_by(User.name)
        )
    ).all()
    return render(
        request, "admin/users.html", users=users, nav_active="admin", admin_active="benutzer"
    )
