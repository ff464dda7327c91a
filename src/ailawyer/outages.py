"""Which errors mean that PostgreSQL or Redis is away for a moment, not that the code is wrong."""

from __future__ import annotations

import asyncpg.exceptions
import redis.exceptions
import sqlalchemy.exc

# redis-py's ConnectionError covers BusyLoadingError (Redis still reading its AOF);
# sqlalchemy wraps asyncpg's lost or refused connections as OperationalError or
# InterfaceError, but a server shutting down or starting up ("the database system is
# shutting down") only as a DBAPIError, so asyncpg's own classes are asked too; the
# built-in ConnectionError covers refused and reset sockets.
_OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    ConnectionError,
)
# How far down `__cause__`/`__context__` to look: libraries wrap the socket error once or twice.
_CHAIN_DEPTH = 5


def is_outage(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a database or Redis connection being away."""
    current: BaseException | None = error
    for _ in range(_CHAIN_DEPTH):
        if current is None:
            return False
        if isinstance(current, _OUTAGES):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False
