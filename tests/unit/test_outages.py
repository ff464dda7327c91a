"""Which errors count as PostgreSQL or Redis being away (503) and which are bugs (500)."""

from __future__ import annotations

import asyncpg.exceptions
import pytest
import redis.exceptions
import sqlalchemy.exc

from ailawyer.outages import is_outage


def _wrapped(error: Exception) -> Exception:
    """How SQLAlchemy raises a driver error: its own class, `from` the driver's."""
    outer = sqlalchemy.exc.DBAPIError("SELECT 1", None, error)
    outer.__cause__ = error
    return outer


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        ConnectionRefusedError(111, "Connection refused"),
        # Seen in the chaos run: PostgreSQL restarting, wrapped as a plain DBAPIError.
        _wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")),
        _wrapped(asyncpg.exceptions.AdminShutdownError("terminating connection")),
        _wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")),
        sqlalchemy.exc.OperationalError("SELECT 1", None, OSError("connection lost")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_service_away_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        KeyError("missing"),
        sqlalchemy.exc.IntegrityError("INSERT", None, Exception("duplicate key")),
        # A statement timeout is the query's fault, not an outage.
        _wrapped(asyncpg.exceptions.QueryCanceledError("canceling statement due to timeout")),
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_bug_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)


def test_an_outage_deep_in_the_cause_chain_is_found() -> None:
    try:
        try:
            raise redis.exceptions.ConnectionError("Connection refused")
        except redis.exceptions.ConnectionError as inner:
            raise RuntimeError("while loading the session") from inner
    except RuntimeError as outer:
        assert is_outage(outer)
