"""Who may see an Akte: the owner, a colleague with a Kanzlei-wide role, never an outsider."""

from __future__ import annotations

import httpx
import pytest
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.personas import People

from ailawyer.db.models import Akte, User
from ailawyer.domain.access import can_access_akte, get_akte_for_user, visible_akten_query
from ailawyer.domain.roles import Role
from ailawyer.services import Services


@pytest.fixture
async def akte(factory: Factory, people: People) -> Akte:
    """Of Kanzlei A, with A's ANWALT and SACHBEARBEITER on it."""
    return await factory.akte(
        people.kanzlei_a, anwalt=people.anwalt_a, sachbearbeiter=people.sachbearbeiter_a
    )


async def persona(factory: Factory, people: People, name: str) -> User:
    if name == "deaktiviert":
        return await factory.user(Role.ADMIN, kanzlei=people.kanzlei_a, aktiv=False)
    return {
        "anwalt": people.anwalt_a,
        "sachbearbeiter": people.sachbearbeiter_a,
        "sekretariat": people.staff_a[Role.SEKRETARIAT],
        "admin": people.admin_a,
        # Of the same Kanzlei, but on no Akte.
        "kollege": people.staff_a.kollege,
        "fremder_admin": people.admin_b,
    }[name]


@pytest.mark.parametrize(
    ("person", "allowed"),
    [
        ("anwalt", True),
        ("sachbearbeiter", True),
        ("sekretariat", True),
        ("admin", True),
        ("kollege", False),
        ("fremder_admin", False),
        ("deaktiviert", False),
    ],
)
async def test_access_follows_kanzlei_role_and_assignment(
    akte: Akte, factory: Factory, people: People, services: Services, person: str, allowed: bool
) -> None:
    user = await persona(factory, people, person)

    assert can_access_akte(user, akte) is allowed
    async with services.db.session() as db:
        assert (await get_akte_for_user(db, user, akte.id) is not None) is allowed
        visible = (await db.scalars(visible_akten_query(user))).all()
    assert (akte.id in {a.id for a in visible}) is allowed


async def test_it_refuses_an_akte_of_another_kanzlei_with_404(
    akte: Akte, people: People, client: httpx.AsyncClient
) -> None:
    await login(client, people.admin_b.email)

    response = await client.get(f"/akten/{akte.id}")

    assert response.status_code == 404
    assert akte.kurzrubrum not in response.text


async def test_the_dashboard_lists_only_visible_akten(
    akte: Akte, people: People, factory: Factory, client: httpx.AsyncClient
) -> None:
    hidden = await factory.akte(people.kanzlei_a, kurzrubrum="Geheime Sache")
    await login(client, people.anwalt_a.email)

    page = (await client.get("/")).text

    assert akte.kurzrubrum in page
    assert hidden.kurzrubrum not in page
    assert (await client.get(f"/akten/{akte.id}")).status_code == 200
