"""Browser fixtures: Playwright driving Debian's Chromium against the live server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from tests.support.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# As root and with no network beyond loopback, these keep Chromium from stalling on start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
async def new_context(
    browser: Browser, live_server: str
) -> AsyncIterator[Callable[..., Awaitable[BrowserContext]]]:
    """Make isolated browser contexts (separate cookies), closed after the test; keywords go
    to Playwright's `new_context` (e.g. `timezone_id`)."""
    contexts: list[BrowserContext] = []

    async def make(**options: Any) -> BrowserContext:
        context = await browser.new_context(base_url=live_server, locale="de-DE", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()


@pytest.fixture
async def page(new_context: Callable[..., Awaitable[BrowserContext]]) -> Page:
    context = await new_context()
    return await context.new_page()


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the real login form and wait for the page that follows."""
    await page.goto("/anmelden")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_label("Passwort").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Anmelden").click()
