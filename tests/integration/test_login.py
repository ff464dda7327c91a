"""Logging in and out over real HTTP against `ailawyer serve`."""

from __future__ import annotations

import httpx
from tests.support.factories import Factory
from tests.support.http import csrf_token_from, login

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.domain.roles import Role


async def test_a_user_logs_in_and_sees_the_dashboard(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT, name="Dr. Erika Beispiel")

    response = await login(client, user.email)

    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/"
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly")
    dashboard = await client.get("/")
    assert dashboard.status_code == 200
    assert "Dr. Erika Beispiel" in dashboard.text


async def test_a_wrong_password_shows_a_german_error(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()

    response = await login(client, user.email, "falsch-falsch")

    assert response.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in response.text
    assert (await client.get("/")).status_code in (302, 303)


async def test_a_post_without_csrf_token_is_rejected(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    await client.get("/anmelden")

    response = await client.post("/anmelden", data={"email": user.email, "password": "x"})

    assert response.status_code == 403
    assert "Formular ist abgelaufen" in response.text


async def test_the_sixth_failed_login_is_answered_with_429(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    for _ in range(5):
        assert (await login(client, user.email, "falsch-falsch")).status_code == 401

    blocked = await login(client, user.email)

    assert blocked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0


async def test_anonymous_page_visits_redirect_to_the_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/akten/1")

    assert response.status_code in (302, 303)
    assert response.headers["location"] == "/anmelden?next=/akten/1"


async def test_logout_ends_the_session_on_the_server(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    await login(client, user.email)
    old_cookie = client.cookies[SESSION_COOKIE]
    token = csrf_token_from((await client.get("/")).text)

    response = await client.post("/abmelden", data={"_csrf_token": token})

    assert response.status_code in (302, 303)
    async with httpx.AsyncClient(base_url=str(client.base_url)) as replay:
        replay.cookies.set(SESSION_COOKIE, old_cookie)
        assert (await replay.get("/")).status_code in (302, 303)
