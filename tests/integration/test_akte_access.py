"""Who may see an Akte: the owner, a colleague with a Kanzlei-wide role, never an outsider."""

from __future__ import annotations

import httpx
import pytest
from tests.support.factories import Factory
from tests.support.http import login

from ailawyer.domain.access import can_access_akte, get_akte_for_user, visible_akten_query
from ailawyer.domain.roles import Role
from ailawyer.services import Services


@pytest.fixture
async def world(factory: Factory) -> dict:
    kanzlei = await factory.kanzlei()
    other = await factory.kanzlei()
    people = {
        "anwalt": await factory.user(Role.ANWALT, kanzlei=kanzlei),
        "sachbearbeiter": await factory.user(Role.SACHBEARBEITER, kanzlei=kanzlei),
        "kollege": await factory.user(Role.ANWALT, kanzlei=kanzlei),
        "sekretariat": await factory.user(Role.SEKRETARIAT, kanzlei=kanzlei),
        "admin": await factory.user(Role.ADMIN, kanzlei=kanzlei),
        "fremder_admin": await factory.user(Role.ADMIN, kanzlei=other),
        "deaktiviert": await factory.user(Role.ADMIN, kanzlei=kanzlei, aktiv=False),
    }
    akte = await factory.akte(
        kanzlei, anwalt=people["anwalt"], sachbearbeiter=people["sachbearbeiter"]
    )
    return {"akte": akte, **people}


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
    world: dict, services: Services, person: str, allowed: bool
) -> None:
    user, akte = world[person], world["akte"]

    assert can_access_akte(user, akte) is allowed
    async with services.db.session() as db:
        assert (await get_akte_for_user(db, user, akte.id) is not None) is allowed
        visible = (await db.scalars(visible_akten_query(user))).all()
    assert (akte.id in {a.id for a in visible}) is allowed


async def test_it_refuses_an_akte_of_another_kanzlei_with_404(
    world: dict, client: httpx.AsyncClient
) -> None:
    await login(client, world["fremder_admin"].email)

    response = await client.get(f"/akten/{world['akte'].id}")

    assert response.status_code == 404
    assert world["akte"].kurzrubrum not in response.text


async def test_the_dashboard_lists_only_visible_akten(
    world: dict, factory: Factory, client: httpx.AsyncClient
) -> None:
    hidden = await factory.akte(world["akte"].kanzlei_id, kurzrubrum="Geheime Sache")
    await login(client, world["anwalt"].email)

    page = (await client.get("/")).text

    assert world["akte"].kurzrubrum in page
    assert hidden.kurzrubrum not in page
    assert (await client.get(f"/akten/{world['akte'].id}")).status_code == 200
