"""Fixtures the admin pages' tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.support.factories import Factory
from tests.support.http import logged_in

from ailawyer.db.models import User
from ailawyer.domain.roles import Role


@pytest.fixture
async def admin(factory: Factory) -> User:
    """An ADMIN of a Kanzlei of its own."""
    return await factory.user(Role.ADMIN)


@pytest.fixture
async def admin_client(live_server: str, admin: User) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the live server with `admin`'s session."""
    async with logged_in(live_server, admin) as client:
        yield client


@pytest.fixture
async def operator(factory: Factory) -> User:
    """The installation's operator (an ADMIN of a Kanzlei of its own with the operator flag)."""
    return await factory.user(Role.ADMIN, is_operator=True)


@pytest.fixture
async def operator_client(live_server: str, operator: User) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client against the live server with the operator's session."""
    async with logged_in(live_server, operator) as client:
        yield client
