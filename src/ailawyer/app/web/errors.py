"""Turns exceptions into German error pages for people and JSON bodies for API clients.

A signed-in user's error page is an ordinary page: the navigation, the Kanzlei's name and a
way back that fits (`ways_back`); a visitor who is not signed in is offered the login.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from litestar import MediaType, Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import Scope
from litestar.utils.scope.state import ScopeState

from ailawyer.app.web.authentication import cookie_value, is_background_request, load_current_user
from ailawyer.app.web.dependencies import close_request_db_session, request_db_session
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
    page = render(
        request,
        "errors/error.html",
        status_code=status,
        title=title,
        message=message,
        ways_back=ways_back(request, status),
    )
    if exc.headers:
        page.headers.update(exc.headers)
    if request.scope.get("user") is not None:
        # It names the user; `SessionAuthMiddleware` says the same, but it never saw a 404
        # or 405 of the router (`load_user_for_error_page`).
        page.headers["Cache-Control"] = "no-store"
    return page


def ways_back(request: Request[Any, Any, Any], status: int) -> list[tuple[str, str]]:
    """The error page's links as (label, href), the first one the main way.

    A visitor goes to the login. A signed-in user may try a page again after a passing fault,
    goes back into the administration from a page inside it, and always to the Übersicht.
    """
    user = request.scope.get("user")
    if user is None:
        return [("Zur Anmeldung", "/anmelden")]
    ways: list[tuple[str, str]] = []
    if status >= 500 and request.method == "GET":
        again = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        ways.append(("Erneut versuchen", again))
    if request.url.path.startswith("/admin/") and user.may_enter_administration:
        ways.append(("Zur Administration", "/admin"))
    ways.append(("Zur Übersicht", "/"))
    return ways


async def load_user_for_error_page(exc: Exception, scope: Scope) -> None:
    """An `after_exception` hook: the signed-in user for an error no middleware saw.

    Litestar's router answers an unknown path (404) or method (405) before any middleware
    runs, so neither `SessionAuthMiddleware` nor the CSRF middleware did their part: a
    mistyped link showed a signed-in user an anonymous page that looked like a logout. This
    loads the user as the middleware would, and hands the page the CSRF token the middleware
    would have (the cookie's, as it does for every GET), so the logout button works. Pages
    only: API and htmx requests keep their answers; an outage leaves the page anonymous.
    """
    if scope["type"] != ScopeType.HTTP or "user" in scope or is_outage(exc):
        return
    app = scope["litestar_app"]
    request: Request[Any, Any, Any] = app.request_class(scope)
    # A missing static file is no page: no session is read for it (as in the middleware).
    if (
        wants_json(request)
        or request.headers.get("hx-request")
        or scope["path"].startswith("/static/")
    ):
        return
    try:
        user = await load_current_user(
            app.state.services,
            request_db_session(scope),
            cookie_value(scope, SESSION_COOKIE),
            touch=not is_background_request(scope),
        )
    except Exception as error:
        if not is_outage(error):
            raise
        log.warning("error page without user", path=request.url.path, error=repr(error)[:500])
        return
    finally:
        await close_request_db_session(scope)
    scope["user"] = user
    csrf_cookie = request.cookies.get(app.csrf_config.cookie_name) if app.csrf_config else None
    if user is not None and csrf_cookie:
        ScopeState.from_scope(scope).csrf_token = csrf_cookie


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
