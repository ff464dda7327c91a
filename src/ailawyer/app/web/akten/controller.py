"""The Akte page."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy import select

from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.templating import render
from ailawyer.db.models import Dokument
from ailawyer.domain.access import get_akte_for_user
from ailawyer.services import Services


@get("/akten/{akte_id:int}", guards=[requires_login], name="akte")
async def akte_page(request: Request[Any, Any, Any], services: Services, akte_id: int) -> Template:
    async with services.db.session() as db:
        # 404, not 403: an Akte the user may not see must not be confirmed to exist.
        akte = await get_akte_for_user(db, request.user, akte_id)
        if akte is None:
            raise NotFoundException("Akte not found")
        dokumente = (
            await db.scalars(
                select(Dokument).where(Dokument.akte_id == akte.id).order_by(Dokument.created_at)
            )
        ).all()
    return render(
        request, "akten/detail.html", akte=akte, dokumente=dokumente, nav_active="dashboard"
    )
