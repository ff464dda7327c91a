"""Turns exceptions into German error pages for people and JSON bodies for API clients."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from ailawyer.app.web.forms import REFUSED_FORM_MESSAGE, is_refused_form
from ailawyer.app.web.templating import render
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.logs import get_logger
from ailawyer.outages import is_outage

log = get_logger(__name__)

GERMAN_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Ungültige Anfrage", "Die Anfrage konnte nicht verarbeitet werden."),
    403: ("Zugriff verweigert", "Sie haben keine Berechtigung für diese Seite."),
    404: (
        "Nicht gefunden",
        "Die angeforderte Seite gibt es nicht oder sie ist Ihnen nicht zugänglich.",
    ),
    405: ("Nicht erlaubt", "Diese Aktion ist hier nicht möglich."),
    413: ("Datei zu groß", "Die Datei überschreitet die erlaubte Größe."),
    429: ("Zu viele Versuche", "Bitte warten Sie einen Moment und versuchen Sie es dann erneut."),
    500: ("Es ist ein Fehler aufgetreten", "Bitte versuchen Sie es später erneut."),
    503: (
        "Vorübergehend nicht erreichbar",
        "Ein Dienst im Hintergrund ist gerade nicht erreichbar. "
        "Bitte versuchen Sie es in einigen Sekunden erneut.",
    ),
}
# Seconds a client should wait after a 503 caused by a database or Redis outage: restarts
# take about a second (chaos suite, bench/RESULTS.md).
OUTAGE_RETRY_AFTER_SECONDS = 5
CSRF_MESSAGE = (
    "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu und versuchen Sie es erneut."
)


def wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def login_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    """To the login page, back to `target` afterwards; says so if a session just ran out.

    An htmx request (a poll, a fragment) would follow a plain redirect inside its XHR and
    swap the login page into the fragment: it gets `HX-Redirect` instead, so the whole page
    goes to the login, and back to the page (not the fragment) afterwards.
    """
    target = request.url.path
    if request.url.query:
        target += f"?{request.url.query}"
    current_page = urlsplit(request.headers.get("hx-current-url", ""))
    if request.headers.get("hx-request") and current_page.path.startswith("/"):
        target = current_page.path + (f"?{current_page.query}" if current_page.query else "")
    location = f"/anmelden?next={quote(target, safe='/')}"
    if SESSION_COOKIE in request.cookies:
        location += "&hinweis=abgelaufen"
    if request.headers.get("hx-request"):
        return Response(b"", status_code=204, headers={"HX-Redirect": location})
    return Redirect(location)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Redirect anonymous page visits to the login; German page or JSON body for the rest."""
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        return login_redirect(request)
    status = exc.status_code
    if wants_json(request):
        body: dict[str, Any] = {"status_code": status, "detail": exc.detail}
        if exc.extra:
            body["extra"] = exc.extra
        return Response(body, status_code=status, media_type=MediaType.JSON, headers=exc.headers)
    title, message = GERMAN_ERRORS.get(status, GERMAN_ERRORS[400 if status < 500 else 500])
    if status == 403 and "csrf" in str(exc.detail).lower():
        message = CSRF_MESSAGE
    elif is_refused_form(exc):
        message = REFUSED_FORM_MESSAGE
    page = render(request, "errors/error.html", status_code=status, title=title, message=message)
    if exc.headers:
        page.headers.update(exc.headers)
    return page


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log the full error; show the user no technical detail."""
    if is_outage(exc):
        # Not a bug: the health page shows the outage; the client may simply try again.
        log.warning("service unavailable", path=request.url.path, error=repr(exc)[:500])
        return handle_http_exception(
            request,
            HTTPException(
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                detail="Service temporarily unavailable",
                headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
            ),
        )
    log.exception("unhandled error", path=request.url.path)
    return handle_http_exception(
        request, HTTPException(status_code=HTTP_500_INTERNAL_SERVER_ERROR, detail="Internal error")
    )
