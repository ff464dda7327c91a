"""The start page: the Akten the user may see, and in words whose Akten these are."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.dependencies import DbSessionDep
from ailawyer.app.web.templating import render
from ailawyer.db.models import Akte
from ailawyer.domain.access import KANZLEI_WIDE_ROLES, visible_akten_query


@get("/", guards=[requires_login], name="dashboard")
async def dashboard(request: Request[Any, Any, Any], db: DbSessionDep) -> Template:
    user = request.user
    akten = (await db.scalars(visible_akten_query(user).order_by(Akte.aktenzeichen))).all()
    return render(
        request,
        "dashboard/index.html",
        akten=akten,
        # The same roles `visible_akten_query` shows every Akte of the Kanzlei to.
        whole_kanzlei=user.role in KANZLEI_WIDE_ROLES,
        nav_active="dashboard",
    )
