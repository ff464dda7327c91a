"""The security suite's fixtures: two Kanzleien full of data, and the browser of tests/e2e."""

from __future__ import annotations

import pytest
from tests.e2e.conftest import browser, new_context, page
from tests.support.factories import Factory
from tests.support.personas import Tenant, build_tenant

from ailawyer.services import Services

# The browser fixtures are defined once, in tests/e2e; the stored-XSS tests use them too.
__all__ = ["attacker", "browser", "new_context", "page", "victim"]


@pytest.fixture
async def attacker(factory: Factory, services: Services) -> Tenant:
    """The Kanzlei whose users try to reach the other's data."""
    return await build_tenant(factory, services, "A")


@pytest.fixture
async def victim(factory: Factory, services: Services, attacker: Tenant) -> Tenant:
    """The Kanzlei whose data must stay its own (made after `attacker`: higher ids)."""
    return await build_tenant(factory, services, "B")
