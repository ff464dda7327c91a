"""The question "system notifications?" per browser: every browser that has not answered is
asked; "Nicht jetzt" waits for the next sign-in, "Nicht mehr fragen" ends it for the person;
the Einstellungen show this browser's answer and ask it again. Not above admin pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, Locator, Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.permission_dialog import DIALOG, allow
from tests.support.personas import build_admin

from ailawyer.db.models import User
from ailawyer.domain.roles import Role

pytestmark = pytest.mark.browser

NewContext = Callable[..., Awaitable[BrowserContext]]


async def signed_in(context: BrowserContext, user: User) -> Page:
    """A page of `context` on the Übersicht once the notification list has loaded: by then
    the page has decided whether to ask."""
    page = await context.new_page()
    await log_in(page, user.email)
    await settled(page)
    return page


async def settled(page: Page) -> None:
    await expect(page.locator("#notification-loading")).to_be_hidden()


async def sign_in_again(page: Page, user: User) -> None:
    await page.get_by_role("button", name="Abmelden").click()
    await page.wait_for_url("**/anmelden**")
    await log_in(page, user.email)
    await settled(page)


def question(page: Page) -> Locator:
    return page.get_by_role("region", name="Benachrichtigungen auf dem Bildschirm")


def browser_state(page: Page) -> Locator:
    return page.locator("#browser-permission-state")


async def test_a_second_browser_is_asked_after_the_first_allowed_them(
    new_context: NewContext, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    first = await new_context()
    await first.add_init_script(DIALOG)
    page = await signed_in(first, user)
    await question(page).get_by_role("button", name="Aktivieren").click()
    await allow(first, page)
    await expect(question(page)).to_be_hidden()
    assert await page.evaluate("Notification.permission") == "granted"

    other = await signed_in(await new_context(), user)

    await expect(question(other)).to_be_visible()
    await other.goto("/einstellungen")
    await expect(browser_state(other)).to_have_text("Noch nicht entschieden")
    await page.goto("/einstellungen")
    await expect(browser_state(page)).to_have_text("Erlaubt")


async def test_nicht_jetzt_waits_for_the_next_sign_in(
    new_context: NewContext, factory: Factory
) -> None:
    user = await factory.user(Role.SACHBEARBEITER)
    page = await signed_in(await new_context(), user)

    await question(page).get_by_role("button", name="Nicht jetzt").click()

    await expect(question(page)).to_be_hidden()
    await page.reload()
    await settled(page)
    await expect(question(page)).to_be_hidden()
    assert await page.evaluate("Notification.permission") == "default"

    await sign_in_again(page, user)

    await expect(question(page)).to_be_visible()


async def test_nicht_mehr_fragen_ends_the_question_in_every_browser_until_switched_on(
    new_context: NewContext, factory: Factory
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    page = await signed_in(await new_context(), user)

    await question(page).get_by_role("button", name="Nicht mehr fragen").click()

    await expect(question(page)).to_be_hidden()
    other = await signed_in(await new_context(), user)
    await expect(question(other)).to_be_hidden()
    await sign_in_again(page, user)
    await expect(question(page)).to_be_hidden()

    await page.goto("/einstellungen")
    ask = page.get_by_label("In Browsern, die noch nicht gefragt wurden, um Erlaubnis bitten")
    await expect(ask).not_to_be_checked()
    await ask.check()
    await page.get_by_role("button", name="Speichern").click()
    await page.goto("/")
    await settled(page)
    await expect(question(page)).to_be_visible()


async def test_the_settings_show_this_browsers_answer_and_ask_it_again(
    new_context: NewContext, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    context = await new_context()
    await context.add_init_script(DIALOG)
    page = await signed_in(context, user)
    await page.goto("/einstellungen")
    ask = page.get_by_role("button", name="Browser um Erlaubnis bitten")
    await expect(browser_state(page)).to_have_text("Noch nicht entschieden")

    await ask.click()
    await allow(context, page)

    await expect(browser_state(page)).to_have_text("Erlaubt")
    await expect(ask).to_be_hidden()

    # A browser that said no: headless Chromium refuses when nothing was granted.
    refused = await signed_in(await new_context(), user)
    await question(refused).get_by_role("button", name="Aktivieren").click()
    await refused.goto("/einstellungen")
    await expect(browser_state(refused)).to_have_text("Blockiert")
    await expect(refused.locator("#browser-permission-hint")).to_contain_text(
        "Website-Einstellungen Ihres Browsers"
    )
    await expect(refused.get_by_role("button", name="Browser um Erlaubnis bitten")).to_be_hidden()


async def test_the_question_is_asked_on_the_uebersicht_not_above_admin_pages(
    page: Page, factory: Factory
) -> None:
    admin = await build_admin(factory)
    await log_in(page, admin.email)
    await settled(page)
    await expect(question(page)).to_be_visible()

    await page.goto("/admin")
    await settled(page)

    await expect(page.locator("#notification-permission-prompt")).to_have_count(0)
