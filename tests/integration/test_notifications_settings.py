"""Einstellungen: sounds per event and the browser-notification answer, stored per user."""

from __future__ import annotations

import httpx
from tests.support.factories import Factory
from tests.support.http import csrf_token, login

from ailawyer.domain.roles import Role
from ailawyer.services import Services


async def test_the_settings_page_stores_sounds_and_the_browser_answer(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    await login(client, user.email)
    page = await client.get("/einstellungen")
    assert page.status_code == 200
    assert "Verarbeitung fehlgeschlagen" in page.text

    saved = await client.post(
        "/einstellungen",
        data={
            "_csrf_token": await csrf_token(client, "/einstellungen"),
            "sound-job-failed": "on",
            "browser_notifications": "granted",
        },
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == "/einstellungen?gespeichert=1"
    assert (
        "Ihre Einstellungen wurden gespeichert."
        in (await client.get(saved.headers["location"])).text
    )
    preferences = (await client.get("/api/notifications")).json()["preferences"]
    assert preferences["sounds"] == {
        "job-completed": False,
        "job-failed": True,
        "system-alert": False,
    }
    assert preferences["browser_notifications"] == "granted"


async def test_the_browser_answer_is_remembered_through_the_api(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    await login(client, user.email)
    headers = {"x-csrftoken": await csrf_token(client)}

    answered = await client.put(
        "/api/settings/browser-notifications", json={"permission": "denied"}, headers=headers
    )
    nonsense = await client.put(
        "/api/settings/browser-notifications", json={"permission": "vielleicht"}, headers=headers
    )

    assert answered.json() == {"browser_notifications": "denied"}
    assert nonsense.status_code == 400
    preferences = (await client.get("/api/notifications")).json()["preferences"]
    assert preferences["browser_notifications"] == "denied"


async def test_the_settings_page_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/einstellungen")

    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/anmelden?next=/einstellungen")
