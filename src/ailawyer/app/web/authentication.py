"""Loads the session's user into every HTTP connection, and the guards that check it."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

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


async def load_current_user(services: Services, token: str | None) -> CurrentUser | None:
    """The active user of session `token`, or None (no, expired or ended session)."""
    if not token:
        return None
    session = await services.sessions.load(token)
    if session is None:
        return None
    async with services.db.session() as db:
        user = await db.get(User, session.user_id)
        if user is None or not user.aktiv:
            await services.sessions.end(session.key, user_id=session.user_id, reason="inactive")
            return None
        return CurrentUser.from_user(user, session.key)


class SessionAuthMiddleware(ASGIMiddleware):
    """Sets `scope["user"]` to the CurrentUser or None; guards decide what that allows."""

    scopes = (ScopeType.HTTP,)
    exclude_path_pattern = ("^/static/",)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        services: Services = scope["litestar_app"].state.services
        user = await load_current_user(services, cookie_value(scope, SESSION_COOKIE))
        scope["user"] = user
        if user is not None:
            bind_context(user_id=user.id)
        await next_app(scope, receive, send)


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
