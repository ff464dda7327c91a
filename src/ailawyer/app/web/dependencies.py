"""Dependencies that route handlers ask for by name; `create_app` provides them.

The request's database session (docs/ARCHITECTURE.md, "request rules"): one `AsyncSession`
per HTTP request, shared by the user load in `SessionAuthMiddleware`, the guards and the
handler. It is created on first use and kept in the connection state; the middleware
closes it once the response is sent (closing rolls back what was not committed and gives
the connection back to the pool). So a read-only page checks out one connection, with one
pre-ping, one BEGIN and one ROLLBACK. A handler commits its writes itself, as before.
Code outside a request (worker, CLI, Socket.IO handlers) opens its own
`services.db.session()`.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.services import Services

ServicesDep = NamedDependency[Services]
DbSessionDep = NamedDependency[AsyncSession]
"""The request's one database session (ask for it as `db: DbSessionDep`)."""

_DB_SESSION = "ailawyer.db_session"


def request_db_session(scope: Scope) -> AsyncSession:
    """The request's session, created on first use; `close_request_db_session` ends it."""
    state = scope["state"]
    session: AsyncSession | None = state.get(_DB_SESSION)
    if session is None:
        services: Services = scope["litestar_app"].state.services
        session = state[_DB_SESSION] = services.db.sessionmaker()
    return session


async def close_request_db_session(scope: Scope) -> None:
    """Close the request's session if one was opened (rolls back what was not committed)."""
    session: AsyncSession | None = scope["state"].pop(_DB_SESSION, None)
    if session is not None:
        await session.close()


def provide_db_session(request: ASGIConnection[Any, Any, Any, Any]) -> AsyncSession:
    """The provider behind `DbSessionDep`."""
    return request_db_session(request.scope)
