"""Einstellungen: sounds per event, system notifications and "Nicht mehr fragen", per user.

Each browser's permission is not stored: only what belongs to the person."""

from __future__ import annotations

import httpx
from tests.support.factories import Factory
from tests.support.http import csrf_token, login

from ailawyer.domain.roles import Role
from ailawyer.services import Services


async def preferences(client: httpx.AsyncClient) -> dict[str, object]:
    return (await client.get("/api/notifications")).json()["preferences"]


async def test_the_settings_page_stores_sounds_and_system_notifications(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    await login(client, user.email)
    page = await client.get("/einstellungen")
    assert page.status_code == 200
    assert "Verarbeitung fehlgeschlagen" in page.text
    defaults = await preferences(client)
    assert not any(defaults["sounds"].values())
    assert (defaults["system_notifications"], defaults["ask_permission"]) == (True, True)

    saved = await client.post(
        "/einstellungen",
        data={"_csrf_token": await csrf_token(client, "/einstellungen"), "sound-job-failed": "on"},
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == "/einstellungen?gespeichert=1"
    assert (
        "Ihre Einstellungen wurden gespeichert."
        in (await client.get(saved.headers["location"])).text
    )
    stored = await preferences(client)
    assert stored["sounds"] == {"job-completed": False, "job-failed": True, "system-alert": False}
    # Unchecked boxes are absent from the form: both switched off.
    assert (stored["system_notifications"], stored["ask_permission"]) == (False, False)

    await client.post(
        "/einstellungen",
        data={
            "_csrf_token": await csrf_token(client, "/einstellungen"),
            "system_notifications": "on",
            "ask_permission": "on",
        },
    )
    stored = await preferences(client)
    assert (stored["system_notifications"], stored["ask_permission"]) == (True, True)


async def test_nicht_mehr_fragen_is_remembered_through_the_api_and_nothing_else_is(
    client: httpx.AsyncClient, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    await login(client, user.email)
    headers = {"x-csrftoken": await csrf_token(client)}
    url = "/api/settings/browser-notifications"

    # Asking again, or a browser's answer, is not the server's to keep.
    for refused in ({"ask_permission": True}, {"permission": "granted"}, {}):
        answer = await client.put(url, json=refused, headers=headers)
        assert answer.status_code == 400, refused
    assert (await preferences(client))["ask_permission"] is True

    answered = await client.put(url, json={"ask_permission": False}, headers=headers)

    assert answered.json() == {"ask_permission": False}
    stored = await preferences(client)
    assert (stored["system_notifications"], stored["ask_permission"]) == (True, False)


async def test_the_settings_page_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/einstellungen")

    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/anmelden?next=/einstellungen")
