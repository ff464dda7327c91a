"""An admin page left open ends at the login page after the idle limit: its polls (every
5 s on the settings page) and its socket do not count as someone working."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.personas import build_operator

from ailawyer.auth.sessions import SESSION_COOKIE, session_key
from ailawyer.services import Services

pytestmark = pytest.mark.browser

# Longer than the settings page's poll interval (5 s), so at least one poll runs while the
# session is still alive: before the fix, that poll renewed it for another idle period.
LEFT_SECONDS = 6.5
# The settings page polls every 5 s; its first poll after the end takes it to the login.
# (The key is cut short behind the app's back below, which only a test does; the socket's
# session guard reads the session again when the TTL it read at connect runs out.)
POLL_SECONDS = 5.0


async def test_an_unattended_admin_page_ends_at_the_login_page(
    page: Page, factory: Factory, services: Services
) -> None:
    operator = await build_operator(factory)
    await log_in(page, operator.email)
    await page.goto("/admin/settings")
    polls: list[float] = []
    page.on(
        "request",
        lambda request: (
            polls.append(time.monotonic())
            if request.url.endswith("/admin/settings/processes")
            else None
        ),
    )
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == SESSION_COOKIE)
    key = f"{services.sessions.prefix}:session:{session_key(token)}"
    # The idle limit as good as reached; nobody touches the page from now on.
    await services.redis.pexpire(key, int(LEFT_SECONDS * 1000))
    started = time.monotonic()

    await expect(page).to_have_url(
        re.compile(r"/anmelden\?.*hinweis=abgelaufen"),
        timeout=(LEFT_SECONDS + POLL_SECONDS + 3) * 1000,
    )

    assert any(at < started + LEFT_SECONDS for at in polls), "no poll ran while signed in"
    assert time.monotonic() - started >= LEFT_SECONDS - 0.5
    await expect(page.get_by_label("E-Mail-Adresse")).to_be_visible()
