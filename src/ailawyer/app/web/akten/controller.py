"""The Akte page."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.app.web.templating import render
from ailawyer.config import Settings
from ailawyer.db.models import Akte
from ailawyer.dokumente.queries import dokumente_of_akte
from ailawyer.dokumente.wording import retry_due, status_note
from ailawyer.domain.access import get_akte_for_user
from ailawyer.services import Services


def dokument_status(settings: Settings) -> Mapping[str, Any]:
    """What every template showing a Dokument's status calls (akten/_macros.html)."""
    return {
        "status_note": partial(status_note, zone=settings.display_zone),
        "retry_due": retry_due,
    }


async def akte_or_404(db: AsyncSession, request: Request[Any, Any, Any], akte_id: int) -> Akte:
    """The Akte if the user may see it; 404, not 403, so its existence is not confirmed."""
    akte = await get_akte_for_user(db, request.user, akte_id)
    if akte is None:
        raise NotFoundException("Akte not found")
    return akte


async def render_akte_page(
    request: Request[Any, Any, Any],
    services: Services,
    db: AsyncSession,
    akte: Akte,
    *,
    upload_error: str | None = None,
    status_code: int = 200,
) -> Template:
    """The Akte page, optionally with the upload form's error (the form-post fallback)."""
    dokumente = await dokumente_of_akte(db, akte)
    settings = services.settings
    return render(
        request,
        "akten/detail.html",
        status_code=status_code,
        akte=akte,
        dokumente=dokumente,
        nav_active="dashboard",
        upload_error=upload_error,
        max_upload_mb=settings.max_upload_mb,
        max_upload_files=settings.max_upload_files,
        **dokument_status(settings),
    )


@get("/akten/{akte_id:int}", guards=[requires_login], name="akte")
async def akte_page(
    request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep, akte_id: FromPath[int]
) -> Template:
    return await render_akte_page(request, services, db, await akte_or_404(db, request, akte_id))
