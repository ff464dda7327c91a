"""Runtime settings in a real browser: a refused value shows its German message next to
the field; a saved maintenance banner appears for a logged-in colleague; reset removes it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.personas import build_operator

from ailawyer.domain.roles import Role

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("defaults_restored")]

BANNER = "Am Freitag ab 18 Uhr ist das System wegen Wartung nicht erreichbar."


def console_errors(page: Page) -> list[str]:
    """Errors the page logs: a CSP violation, or the 422 of a refused save (expected)."""
    errors: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", remember)
    return errors


async def test_an_invalid_value_gets_a_german_message_next_to_its_field(
    page: Page, factory: Factory
) -> None:
    errors = console_errors(page)
    form_status = page.locator("#runtime-settings").get_by_role("status")
    admin = await build_operator(factory)
    await log_in(page, admin.email)
    await page.goto("/admin/settings")
    field = page.get_by_label("Parallele Vorgänge: Testvorgang")

    await field.fill("1000")
    await page.get_by_role("button", name="Speichern").click()

    block = page.locator('[data-setting="jobs.concurrency.test"]')
    await expect(block.locator(".field__error")).to_have_text(
        "Ungültiger Wert für „Parallele Vorgänge: Testvorgang“: "
        "erlaubt ist eine ganze Zahl von 1 bis 100."
    )
    await expect(page.locator("#runtime-settings").get_by_role("alert")).to_contain_text(
        "Nichts wurde gespeichert."
    )
    await expect(field).to_have_value("1000")
    await expect(field).to_be_focused()
    await expect(block).to_contain_text("nicht geändert")

    await field.fill("7")
    await page.get_by_role("button", name="Speichern").click()

    await expect(form_status).to_contain_text("Gespeichert: Parallele Vorgänge: Testvorgang.")
    await expect(block.locator(".field__error")).to_have_count(0)
    assert [e for e in errors if "422" not in e] == []


async def test_a_saved_banner_appears_for_a_colleague_and_reset_removes_it(
    page: Page, new_context: Callable[[], Awaitable[BrowserContext]], factory: Factory
) -> None:
    errors = console_errors(page)
    form_status = page.locator("#runtime-settings").get_by_role("status")
    kanzlei = await factory.kanzlei()
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei, is_operator=True)
    sekretariat = await factory.user(Role.SEKRETARIAT, kanzlei=kanzlei)
    colleague = await (await new_context()).new_page()
    await log_in(colleague, sekretariat.email)
    banner = colleague.locator(".maintenance-banner")
    await expect(banner).to_have_count(0)

    await log_in(page, admin.email)
    await page.get_by_role("link", name="Administration").click()
    side_nav = page.get_by_role("navigation", name="Administration")
    async with page.expect_navigation():  # until "load": htmx is ready then
        await side_nav.get_by_role("link", name="Einstellungen").click()
    await page.get_by_label("Wartungshinweis").fill(BANNER)
    await page.get_by_role("button", name="Speichern").click()
    await expect(form_status).to_contain_text("Gespeichert: Wartungshinweis.")
    processes = page.locator("#settings-processes")
    await expect(processes.locator("[data-applied]")).to_have_attribute(
        "data-applied", re.compile(r"^(\d+)/\1$")
    )

    await colleague.reload()
    await expect(banner).to_have_text(f"Wartungshinweis: {BANNER}")
    await expect(banner).to_have_attribute("role", "status")

    await page.get_by_role("button", name="Zurücksetzen: Wartungshinweis").click()
    await expect(form_status).to_contain_text(
        "Auf den Standardwert zurückgesetzt: Wartungshinweis."
    )
    await expect(page.get_by_label("Wartungshinweis")).to_have_value("")

    await colleague.reload()
    await expect(banner).to_have_count(0)
    assert errors == []
