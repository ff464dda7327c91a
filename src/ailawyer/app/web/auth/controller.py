"""Login and logout pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from msgspec import Struct

from ailawyer.app.web.client_address import client_address
from ailawyer.app.web.dependencies import DbSessionDep, ServicesDep
from ailawyer.app.web.templating import render
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.domain.passwords import verify_password
from ailawyer.domain.users import get_user_by_email
from ailawyer.logs import get_logger

log = get_logger(__name__)

WRONG_CREDENTIALS = "E-Mail-Adresse oder Passwort ist falsch."
NOTICES = {
    "abgemeldet": "Sie wurden abgemeldet.",
    "abgelaufen": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
}


class LoginForm(Struct):
    email: str = ""
    password: str = ""
    next: str = ""


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login would be a phishing tool."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class AuthController(Controller):
    @get("/anmelden", name="login")
    async def login_page(
        self,
        request: Request[Any, Any, Any],
        next: FromQuery[str | None] = None,
        hinweis: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        if request.scope.get("user") is not None:
            return Redirect(safe_next(next))
        return render(
            request, "auth/login.html", next=safe_next(next), notice=NOTICES.get(hinweis or "")
        )

    @post("/anmelden")
    async def login(
        self,
        request: Request[Any, Any, Any],
        services: ServicesDep,
        db: DbSessionDep,
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        settings = services.settings
        ip = client_address(request.scope, settings.trusted_proxies)
        email = data.email.strip()

        def page(error: str, status_code: int) -> Template:
            return render(
                request,
                "auth/login.html",
                status_code=status_code,
                error=error,
                email=email,
                next=safe_next(data.next),
            )

        if not email or not data.password:
            return page("Bitte geben Sie E-Mail-Adresse und Passwort ein.", 400)
        # The try is reserved before the slow password check, so parallel requests cannot
        # all pass a limit that only counts failures once they are known.
        refusal = await services.login_limiter.reserve(email, ip)
        if refusal is not None:
            minutes = max(1, round(refusal.retry_after / 60))
            log.warning("login blocked by limit", ip=ip, limit=refusal.limit)
            response = page(
                "Zu viele fehlgeschlagene Anmeldeversuche. "
                f"Bitte versuchen Sie es in {minutes} Minute{'n' if minutes != 1 else ''} erneut.",
                429,
            )
            response.headers["Retry-After"] = str(refusal.retry_after)
            return response

        user = await get_user_by_email(db, email)
        # Ends the read transaction, so its pooled connection is not held while the
        # password is checked: a burst of logins waiting for the hashing pool would
        # otherwise take every connection (and /api/health's with them).
        await db.commit()
        valid = await verify_password(user.password_hash if user else None, data.password)
        if user is None or not valid or not user.aktiv:
            log.info("login failed", ip=ip)
            return page(WRONG_CREDENTIALS, 401)
        user.last_login_at = datetime.now(UTC)
        await db.commit()
        user_id = user.id

        await services.login_limiter.succeeded(email, ip)
        token = await services.sessions.create(
            user_id, ip=ip, user_agent=request.headers.get("user-agent")
        )
        log.info("login succeeded", userId=user_id, ip=ip)
        response = Redirect(safe_next(data.next))
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.cookies_secure,
            path="/",
            # No max-age: a browser-session cookie; the server decides expiry.
        )
        return response

    @post("/abmelden")
    async def logout(self, request: Request[Any, Any, Any], services: ServicesDep) -> Redirect:
        user = request.scope.get("user")
        if user is not None:
            await services.sessions.end(user.session_key, user_id=user.id, reason="logout")
            log.info("logout")
        response = Redirect("/anmelden?hinweis=abgemeldet")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
