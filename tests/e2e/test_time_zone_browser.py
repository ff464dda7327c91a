"""One clock for people: the server's pages and the browser's own rendering show TIME_ZONE
(Europe/Berlin here), whatever zone the browser's computer is set to (New York here)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest
from playwright.async_api import BrowserContext, Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.jobs import wait_for_state
from tests.support.notifications import notify
from tests.support.personas import build_operator
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.app.web.admin.jobs.route_support import job_url
from ailawyer.app.web.templating import datetime_de, timestamp_de
from ailawyer.domain.roles import Role
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

pytestmark = pytest.mark.browser

NewContext = Callable[..., Awaitable[BrowserContext]]
BROWSER_ZONE = "America/New_York"
# To the second, no milliseconds: "03.12.2026, 07:57:33".
TO_THE_SECOND = re.compile(r"\d\d\.\d\d\.\d{4}, \d\d:\d\d:\d\d")
GERMAN = "%d.%m.%Y, %H:%M:%S"


async def browser_zone(page: Page) -> str:
    return str(await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))


def fact(label: str) -> str:
    """The value of one of the job page's facts ("Erstellt", "Gestartet")."""
    return f'.facts__item:has(dt:text-is("{label}")) dd'


async def test_job_log_times_read_like_the_pages_other_times_in_the_installations_zone(
    new_context: NewContext, services: Services, factory: Factory, worker_process: AilawyerProcess
) -> None:
    operator = await build_operator(factory)
    page = await (await new_context(timezone_id=BROWSER_ZONE)).new_page()
    await log_in(page, operator.email)
    assert await browser_zone(page) == BROWSER_ZONE
    await wait_for_workers(services, 1)
    job = await services.jobs.enqueue("test", AdminTestPayload(duration_ms=0, steps=2))
    await wait_for_state(services, "test", job.id or "", "completed", within=20)

    await page.goto(job_url("test", job.id or ""))

    started = await page.locator(fact("Gestartet")).inner_text()
    created = await page.locator(fact("Erstellt")).inner_text()
    times = page.locator("[data-job-log] li time")
    await expect(times.last).to_contain_text(":")
    zone = services.settings.display_zone
    lines = await times.all()
    assert len(lines) >= 3  # at least: started, step 1, step 2
    for time in lines:
        shown = await time.inner_text()
        at = datetime.fromisoformat(str(await time.get_attribute("datetime")))
        assert TO_THE_SECOND.fullmatch(shown), shown
        assert shown == timestamp_de(at, zone)
        # The same clock as "Gestartet": the run began and wrote its lines in a second or two
        # (UTC or the browser's zone would be hours apart).
        gap = datetime.strptime(shown, GERMAN) - datetime.strptime(started, GERMAN)
        assert 0 <= gap.total_seconds() <= 2, (shown, started)
    assert TO_THE_SECOND.fullmatch(created) and TO_THE_SECOND.fullmatch(started)


async def test_the_bell_shows_a_notifications_time_like_the_server_would(
    new_context: NewContext, services: Services, factory: Factory
) -> None:
    user = await factory.user(Role.ANWALT)
    sent = await notify(services.db, services.notifications, user.id, type="info", title="Frist")
    page = await (await new_context(timezone_id=BROWSER_ZONE)).new_page()
    await log_in(page, user.email)
    assert await browser_zone(page) == BROWSER_ZONE

    await page.locator("#notification-bell").click()

    item = page.locator(".notification-item").filter(has_text="Frist")
    await expect(item.locator("time")).to_have_attribute(
        "title", datetime_de(sent.created_at, services.settings.display_zone)
    )
