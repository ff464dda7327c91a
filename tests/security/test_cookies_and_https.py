"""Cookies are HttpOnly and SameSite, Secure in production; HTTPS is believed only from a
trusted proxy (X-Forwarded-Proto through uvicorn's proxy headers), and a spoofed
X-Forwarded-For neither fakes HTTPS nor escapes the login limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from tests.conftest import process_env
from tests.support.factories import PASSWORD, Factory
from tests.support.http import csrf_token_from, login
from tests.support.realtime import AppServer

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Environment, Settings
from ailawyer.domain.roles import Role

CSRF_COOKIE = "csrftoken"
HTTPS = {"X-Forwarded-Proto": "https"}


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """Each Set-Cookie of `response` by name: its attributes, lower-cased."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            found[name] = {key: value for key, value in morsel.items() if value}
    return found


@pytest.fixture(scope="module")
def production_server(settings: Settings, tmp_root: Path) -> Iterator[AppServer]:
    """`ailawyer serve` in production mode behind a proxy on 127.0.0.1 (this test)."""
    env = process_env(
        settings, ENVIRONMENT=Environment.PRODUCTION.value, TRUSTED_PROXIES="127.0.0.1"
    )
    server = AppServer(env, tmp_root / "serve-production.out").start()
    yield server
    server.stop()


async def test_session_and_csrf_cookies_are_httponly_samesite_and_scoped_to_the_site(
    live_server: str, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        page = await client.get("/anmelden")
        logged_in = await login(client, user.email)
        logged_out = await client.post(
            "/abmelden", data={"_csrf_token": csrf_token_from((await client.get("/")).text)}
        )

    csrf = set_cookies(page)[CSRF_COOKIE]
    session = set_cookies(logged_in)[SESSION_COOKIE]
    for cookie in (csrf, session):
        assert cookie["httponly"] is True
        assert str(cookie["samesite"]).lower() in ("lax", "strict")
        assert cookie["path"] == "/"
        assert "domain" not in cookie
        # Plain HTTP in the test environment: Secure would lose the cookie.
        assert "secure" not in cookie
    # A browser-session cookie; the server decides when the session ends.
    assert "expires" not in session and "max-age" not in session
    ended = set_cookies(logged_out)[SESSION_COOKIE]
    assert ended["max-age"] == "0" or "1970" in str(ended.get("expires", ""))


async def test_in_production_both_cookies_are_secure(
    production_server: AppServer, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    async with httpx.AsyncClient(base_url=production_server.url, timeout=10) as client:
        page = await client.get("/anmelden", headers=HTTPS)
        # The client talks plain HTTP to the "proxy" and so keeps Secure cookies to itself.
        cookie = f"{CSRF_COOKIE}={client.cookies[CSRF_COOKIE]}"
        logged_in = await client.post(
            "/anmelden",
            data={
                "email": user.email,
                "password": PASSWORD,
                "_csrf_token": csrf_token_from(page.text),
            },
            headers={**HTTPS, "Cookie": cookie},
        )

    assert logged_in.status_code in (302, 303), logged_in.text[:300]
    for cookie in (set_cookies(page)[CSRF_COOKIE], set_cookies(logged_in)[SESSION_COOKIE]):
        assert cookie["secure"] is True
        assert cookie["httponly"] is True


async def test_https_from_the_trusted_proxy_turns_on_hsts(production_server: AppServer) -> None:
    async with httpx.AsyncClient(base_url=production_server.url, timeout=10) as client:
        via_proxy = await client.get("/anmelden", headers=HTTPS)
        plain = await client.get("/anmelden")

    assert via_proxy.headers["strict-transport-security"].startswith("max-age=")
    assert int(via_proxy.headers["strict-transport-security"].split("=")[1]) >= 15552000
    # Over plain HTTP the header means nothing, and must not be claimed.
    assert "strict-transport-security" not in plain.headers


async def test_an_untrusted_client_cannot_claim_https(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        response = await client.get("/anmelden", headers={**HTTPS, "X-Forwarded-For": "1.2.3.4"})

    assert "strict-transport-security" not in response.headers


async def test_a_spoofed_forwarded_for_does_not_escape_the_login_limit(
    live_server: str, settings: Settings, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        for attempt in range(settings.login_max_failures):
            spoofed = {"X-Forwarded-For": f"10.0.0.{attempt}"}
            token = csrf_token_from((await client.get("/anmelden")).text)
            failed = await client.post(
                "/anmelden",
                data={"email": user.email, "password": "falsch", "_csrf_token": token},
                headers=spoofed,
            )
            assert failed.status_code == 401
        token = csrf_token_from((await client.get("/anmelden")).text)
        blocked = await client.post(
            "/anmelden",
            data={"email": user.email, "password": PASSWORD, "_csrf_token": token},
            headers={"X-Forwarded-For": "10.9.9.9"},
        )

    assert blocked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in blocked.text
