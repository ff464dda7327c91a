"""Logging in, navigation by role, and logging out in a real browser."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory

from ailawyer.domain.roles import Role

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_logs_in_and_only_admins_see_administration(
    page: Page, factory: Factory, role: Role
) -> None:
    kanzlei = await factory.kanzlei("Kanzlei Beispiel")
    user = await factory.user(role, kanzlei=kanzlei, name=f"Frau {role.label}")

    await log_in(page, user.email)

    await expect(page).to_have_url("/")
    header = page.locator("header")
    await expect(header).to_contain_text("Kanzlei Beispiel")
    await expect(header).to_contain_text(f"Frau {role.label}")
    await expect(header).to_contain_text(role.label)
    administration = page.get_by_role("link", name="Administration")
    if role is Role.ADMIN:
        await expect(administration).to_be_visible()
        await administration.click()
        await expect(page).to_have_url("/admin")
        await expect(page.get_by_role("heading", name="Administration")).to_be_visible()
    else:
        await expect(administration).to_have_count(0)


@pytest.mark.parametrize("role", [Role.ANWALT, Role.SACHBEARBEITER, Role.SEKRETARIAT])
async def test_a_non_admin_opening_an_admin_page_gets_403(
    page: Page, factory: Factory, role: Role
) -> None:
    user = await factory.user(role)
    await log_in(page, user.email)

    response = await page.goto("/admin/benutzer")

    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", name="Zugriff verweigert")).to_be_visible()


async def test_a_wrong_password_shows_a_german_error(page: Page, factory: Factory) -> None:
    user = await factory.user()

    await log_in(page, user.email, "das-ist-falsch")

    await expect(page.get_by_role("alert")).to_contain_text(
        "E-Mail-Adresse oder Passwort ist falsch."
    )
    await expect(page.get_by_label("E-Mail-Adresse")).to_have_value(user.email)


async def test_logout_ends_the_session_and_the_old_cookie_no_longer_works(
    page: Page, factory: Factory
) -> None:
    user = await factory.user()
    await log_in(page, user.email)
    cookies = await page.context.cookies()

    await page.get_by_role("button", name="Abmelden").click()

    await expect(page).to_have_url("/anmelden?hinweis=abgemeldet")
    await expect(page.get_by_text("Sie wurden abgemeldet.")).to_be_visible()
    await page.context.add_cookies(cookies)
    await page.goto("/")
    await expect(page).to_have_url("/anmelden?next=/&hinweis=abgelaufen")
    await expect(page.get_by_text("Ihre Sitzung ist abgelaufen.")).to_be_visible()
