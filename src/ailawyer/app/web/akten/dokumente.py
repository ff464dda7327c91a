"""Dokumente on the Akte page: upload, the list and row fragments, the extracted text."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ClientException, NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.app.web.akten.controller import akte_or_404, dokument_status, render_akte_page
from ailawyer.app.web.authentication import requires_login
from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.app.web.errors import wants_json
from ailawyer.app.web.templating import render
from ailawyer.db.models import Akte
from ailawyer.dokumente.queries import dokumente_of_akte, get_dokument_for_user
from ailawyer.dokumente.upload import IncomingFile, UploadRefused, accept_uploads
from ailawyer.logs import bind_context
from ailawyer.services import Services

FIELD = "dateien"
UNREADABLE = (
    "Die Datei konnte nicht empfangen werden: Die Anfrage ist ungültig "
    "oder der Dateiname ist zu lang."
)


async def _refused(
    request: Request[Any, Any, Any],
    services: Services,
    db: AsyncSession,
    akte: Akte,
    refused: UploadRefused,
) -> Response[Any]:
    """The German message: as JSON for the page's script, else next to the upload form."""
    headers = {"Retry-After": str(refused.retry_after)} if refused.retry_after else {}
    if wants_json(request):
        return Response(
            {"status_code": refused.status, "detail": refused.message},
            status_code=refused.status,
            media_type=MediaType.JSON,
            headers=headers,
        )
    page = await render_akte_page(
        request, services, db, akte, upload_error=refused.message, status_code=refused.status
    )
    page.headers.update(headers)
    return page


@post("/akten/{akte_id:int}/dokumente", guards=[requires_login], name="dokumente-upload")
async def upload_dokumente(
    request: Request[Any, Any, Any], services: ServicesDep, db: DbSessionDep, akte_id: FromPath[int]
) -> Response[Any]:
    """Accept PDFs for an Akte: 201 with the new Dokumente (JSON), or back to the page."""
    akte = await akte_or_404(db, request, akte_id)
    bind_context(akte_id=akte.id)
    # Ends the read transaction, so its pooled connection is not held while a slow client
    # sends the files (many uploads at once would otherwise take every connection).
    await db.commit()
    try:
        form = await request.form()
    except RequestEntityTooLarge:
        limit = services.settings.max_upload_mb
        refused = UploadRefused(f"Die Datei ist zu groß (höchstens {limit} MB).", status=413)
        return await _refused(request, services, db, akte, refused)
    except ClientException:
        # Litestar's own words are English: a malformed body, or a part header beyond the
        # parser's limits (a file name of thousands of characters).
        return await _refused(request, services, db, akte, UploadRefused(UNREADABLE))
    files = [f for f in form.getall(FIELD, []) if isinstance(f, UploadFile)]
    try:
        created = await accept_uploads(
            services,
            akte_id=akte.id,
            user_id=request.user.id,
            uploads=[IncomingFile(f.filename, f.file) for f in files],
        )
    except UploadRefused as refused:
        return await _refused(request, services, db, akte, refused)
    finally:
        for upload in files:
            await upload.close()
    if wants_json(request):
        return Response(
            {
                "dokumente": [
                    {"id": d.id, "dateiname": d.dateiname, "status": d.status.value}
                    for d in created
                ]
            },
            status_code=201,
            media_type=MediaType.JSON,
        )
    return Redirect(f"/akten/{akte.id}", status_code=303)


@get("/akten/{akte_id:int}/dokumente", guards=[requires_login], name="dokumente-list")
async def dokumente_list(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    db: DbSessionDep,
    akte_id: FromPath[int],
) -> Template:
    """The Dokumente table alone (after an upload, and when the page's socket reconnects)."""
    akte = await akte_or_404(db, request, akte_id)
    dokumente = await dokumente_of_akte(db, akte)
    return render(
        request,
        "akten/_dokumente.html",
        akte=akte,
        dokumente=dokumente,
        **dokument_status(services.settings),
    )


@get(
    "/akten/{akte_id:int}/dokumente/{dokument_id:int}/zeile",
    guards=[requires_login],
    name="dokument-row",
)
async def dokument_row(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    db: DbSessionDep,
    akte_id: FromPath[int],
    dokument_id: FromPath[int],
) -> Template:
    """One row of the table, for a live status change."""
    found = await get_dokument_for_user(db, request.user, akte_id, dokument_id)
    if found is None:
        raise NotFoundException("Dokument not found")
    return render(
        request, "akten/_dokument_row.html", d=found[1], **dokument_status(services.settings)
    )


@get("/akten/{akte_id:int}/dokumente/{dokument_id:int}", guards=[requires_login], name="dokument")
async def dokument_page(
    request: Request[Any, Any, Any],
    services: ServicesDep,
    db: DbSessionDep,
    akte_id: FromPath[int],
    dokument_id: FromPath[int],
) -> Template:
    """A Dokument with its extracted text, or why there is none."""
    found = await get_dokument_for_user(db, request.user, akte_id, dokument_id)
    if found is None:
        raise NotFoundException("Dokument not found")
    akte, dokument = found
    return render(
        request,
        "akten/dokument.html",
        akte=akte,
        d=dokument,
        nav_active="dashboard",
        **dokument_status(services.settings),
    )


dokumente_routes = [upload_dokumente, dokumente_list, dokument_row, dokument_page]
