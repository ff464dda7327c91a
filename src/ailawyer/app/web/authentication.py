"""Loads the session's user into every HTTP connection, and the guards that check it."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.app.web.dependencies import close_request_db_session, request_db_session
from ailawyer.app.web.identity import CurrentUser
from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.db.models import User
from ailawyer.logs import bind_context
from ailawyer.services import Services


def cookie_value(scope: Scope | dict[str, Any], name: str) -> str | None:
    """One cookie from the raw headers (used by HTTP middleware and the Socket.IO handshake)."""
    for header, value in scope.get("headers", []):
        if header == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, cookie = part.strip().partition("=")
                if key == name and cookie:
                    return cookie
    return None


# Requests our own scripts make without a person's doing (the admin pages' polls, refreshes
# after a socket event, catch-ups after a reconnect) carry this header (htmx `hx-headers`,
# static/js/api.js): they read the session without extending its idle lifetime, so an
# unattended tab is signed out after the idle limit. A client that leaves it off only keeps
# its own session alive, as any click would.
BACKGROUND_HEADER = b"x-background"
# Answers to a signed-in user hold client data: no browser or proxy cache may keep them
# (a shared computer after logout). Static files are not behind this middleware.
_NO_STORE = (b"cache-control", b"no-store")


def is_background_request(scope: Scope) -> bool:
    """Whether a request says it was made by a script, not by a person (see BACKGROUND_HEADER)."""
    return any(name == BACKGROUND_HEADER and value == b"1" for name, value in scope["headers"])


async def load_current_user(
    services: Services, db: AsyncSession, token: str | None, *, touch: bool = True
) -> CurrentUser | None:
    """The active user of session `token`, read with `db`, or None (no, expired or ended
    session).

    `touch`: extend the session's idle lifetime (a person's request) or only read it.
    """
    if not token:
        return None
    session = await services.sessions.load(token, touch=touch)
    if session is None:
        return None
    user = await db.get(User, session.user_id)
    if user is None or not user.aktiv:
        await services.sessions.end(session.key, user_id=session.user_id, reason="inactive")
        return None
    return CurrentUser.from_user(user, session.key)


class SessionAuthMiddleware(ASGIMiddleware):
    """Sets `scope["user"]` to the CurrentUser or None; guards decide what that allows.

    A person's request extends the session, a background one does not; every answer to a
    signed-in user is `Cache-Control: no-store`. Owns the request's database session
    (`request_db_session`): the user is read with it, and it is closed after the response.
    """

    scopes = (ScopeType.HTTP,)
    exclude_path_pattern = ("^/static/",)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        try:
            await self._authenticated(scope, receive, send, next_app)
        finally:
            await close_request_db_session(scope)

    async def _authenticated(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> None:
        # An anonymous request creates the session object but opens no connection with it.
        user = await load_current_user(
            scope["litestar_app"].state.services,
            request_db_session(scope),
            cookie_value(scope, SESSION_COOKIE),
            touch=not is_background_request(scope),
        )
        scope["user"] = user
        if user is None:
            await next_app(scope, receive, send)
            return
        bind_context(user_id=user.id)

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _NO_STORE[0]
                ]
                message = {**message, "headers": [*headers, _NO_STORE]}
            await send(message)

        await next_app(scope, receive, send_no_store)


# Guards are coroutines: Litestar runs a plain function guard in a worker thread, a thread
# hop on every request for a dictionary lookup.
async def requires_login(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: anonymous users get 401 (pages turn it into a redirect to the login page)."""
    if connection.scope.get("user") is None:
        raise NotAuthorizedException("Authentication required")


async def requires_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: 401 for anonymous users, 403 for everyone but a Kanzlei's ADMIN and the operator."""
    user: CurrentUser | None = connection.scope.get("user")
    if user is None:
        raise NotAuthorizedException("Authentication required")
    if not user.may_enter_administration:
        raise PermissionDeniedException("Administrator role required")


async def requires_operator(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: 401 for anonymous users, 403 for everyone but the installation's operator.

    For what acts on every Kanzlei at once: the system page and logs, installation-wide
    settings, queue-level job actions, the OpenAPI schema.
    """
    user: CurrentUser | None = connection.scope.get("user")
    if user is None:
        raise NotAuthorizedException("Authentication required")
    if not user.is_operator:
        raise PermissionDeniedException("Operator required")
