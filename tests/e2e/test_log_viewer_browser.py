"""The log viewer in a real browser: click an id to filter by it; auto-refresh on and off;
filters changed quickly log no console error; the system page fits 1280 px."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.log_files import log_line
from tests.support.personas import build_operator
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.config import Settings
from ailawyer.services import Services

pytestmark = pytest.mark.browser

POLL_SECONDS = 5  # the page's refresh interval
QUIET_WAIT_MS = (POLL_SECONDS + 2) * 1000


class LogWriter:
    """Appends lines to a log file in the live server's directory, like one more process."""

    def __init__(self, log_dir: Path, marker: str) -> None:
        self.path = log_dir / f"cli-e2ehost-{uuid.uuid4().int % 10**9}.log"
        self.marker = marker

    def write(self, message: str, **fields: object) -> None:
        line = log_line(time.time(), f"{message} {self.marker}", process="cli", **fields)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


@pytest.fixture
def log_writer(settings: Settings) -> Iterator[LogWriter]:
    writer = LogWriter(settings.effective_log_dir, uuid.uuid4().hex)
    yield writer
    writer.path.unlink(missing_ok=True)


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Errors the page logs (a CSP violation by an inline script or handler shows up here)."""
    errors: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", remember)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def test_clicking_a_job_id_or_user_id_filters_by_it(
    page: Page, factory: Factory, log_writer: LogWriter, console_errors: list[str]
) -> None:
    admin = await build_operator(factory)
    log_writer.write("Vorgang A gestartet", jobId="job-a", userId=4711)
    log_writer.write("Vorgang B gestartet", jobId="job-b", userId=4712)
    log_writer.write("Vorgang A fertig", jobId="job-a", userId=4712)
    await log_in(page, admin.email)
    await page.goto(f"/admin/system?q={log_writer.marker}")
    lines = page.locator("#log-entries .log-line")
    await expect(lines).to_have_count(3)

    fertig = lines.filter(has_text="Vorgang A fertig")
    await fertig.get_by_role("link", name="Vorgang job-a").click()

    await expect(page.get_by_label("Vorgangs-ID")).to_have_value("job-a")
    await expect(lines).to_have_count(2)
    await expect(lines.filter(has_text="Vorgang B")).to_have_count(0)
    # The filter is in the address bar, so a reload keeps it.
    await expect(page).to_have_url(f"/admin/system?q={log_writer.marker}&jobId=job-a#protokoll")

    await fertig.get_by_role("link", name="Benutzer 4712").click()

    await expect(page.get_by_label("Benutzer-ID")).to_have_value("4712")
    await expect(lines).to_have_count(1)
    await expect(lines).to_contain_text("Vorgang A fertig")
    await page.reload()
    await expect(lines).to_have_count(1)
    assert console_errors == []


async def test_auto_refresh_is_off_by_default_and_follows_the_toggle(
    page: Page, factory: Factory, log_writer: LogWriter, console_errors: list[str]
) -> None:
    admin = await build_operator(factory)
    log_writer.write("erste Zeile")
    await log_in(page, admin.email)
    await page.goto(f"/admin/system?q={log_writer.marker}")
    lines = page.locator("#log-entries .log-line")
    toggle = page.get_by_label("Automatisch aktualisieren (alle 5 Sekunden)")
    await expect(lines).to_have_count(1)
    await expect(toggle).not_to_be_checked()

    await toggle.check()
    await expect(page.locator("#log-entries")).to_have_attribute("data-live", "on")
    log_writer.write("zweite Zeile")

    # No reload, no click: the page fetches the new line by itself.
    await expect(lines.filter(has_text="zweite Zeile")).to_have_count(
        1, timeout=(POLL_SECONDS + 5) * 1000
    )

    await toggle.uncheck()
    await expect(page.locator("#log-entries")).to_have_attribute("data-live", "off")
    log_writer.write("dritte Zeile")
    # That nothing comes is the subject: only a wait longer than a refresh period shows it.
    await page.wait_for_timeout(QUIET_WAIT_MS)

    await expect(lines).to_have_count(2)
    await expect(lines.filter(has_text="dritte Zeile")).to_have_count(0)
    assert console_errors == []


async def test_changing_filters_quickly_logs_no_console_error(
    page: Page, factory: Factory, log_writer: LogWriter, console_errors: list[str]
) -> None:
    """A new filter while the last answer is on its way (a typed text, then Enter: "change"
    and "submit" at once; the auto-refresh) waits for it instead of aborting it: htmx logs
    every aborted request as a console error."""
    admin = await build_operator(factory)
    log_writer.write("Anfang")
    log_writer.write("Warnung", level="warning")
    await log_in(page, admin.email)
    await page.goto(f"/admin/system?q={log_writer.marker}")
    lines = page.locator("#log-entries .log-line")
    await expect(lines).to_have_count(2)
    await page.get_by_label("Automatisch aktualisieren (alle 5 Sekunden)").check()
    await expect(page.locator("#log-entries")).to_have_attribute("data-live", "on")

    text = page.get_by_label("Text", exact=True)
    await text.fill(f"Warnung {log_writer.marker}")
    await text.press("Enter")
    await expect(lines).to_have_count(1)
    await page.get_by_label("Mindeststufe").select_option("error")
    await page.get_by_label("Quelle").select_option("cli")
    await page.get_by_label("Mindeststufe").select_option("debug")
    await text.fill(log_writer.marker)
    await text.press("Enter")
    await expect(lines).to_have_count(2)
    await expect(page).to_have_url(re.compile(r"source=cli"))
    # An auto-refresh runs while the page sits with the filters: it must not clash either.
    log_writer.write("Nachzügler")
    await expect(lines).to_have_count(3, timeout=(POLL_SECONDS + 5) * 1000)

    assert console_errors == []


async def test_the_system_page_fits_1280_px_and_the_log_scrolls_in_its_card(
    page: Page,
    factory: Factory,
    services: Services,
    log_writer: LogWriter,
    worker_process: AilawyerProcess,
) -> None:
    await wait_for_workers(services, 1)
    admin = await build_operator(factory)
    for number in range(300):
        log_writer.write(f"Zeile {number}", jobId=f"job-{number}", userId=number, queue="dokumente")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await log_in(page, admin.email)
    await page.goto(f"/admin/system?q={log_writer.marker}")
    await expect(page.locator('#system-status tr[data-process-kind="worker"]')).not_to_have_count(0)
    await expect(page.locator("#log-entries .log-line")).to_have_count(200)

    sizes = await page.evaluate(
        """() => {
            const table = document.querySelector("#system-status table");
            const list = document.querySelector("#log-entries .log-list");
            return {
                pageWidth: document.documentElement.scrollWidth,
                pageHeight: document.documentElement.scrollHeight,
                tableWidth: table.scrollWidth,
                tableRoom: table.parentElement.clientWidth,
                listHeight: list.clientHeight,
                listContent: list.scrollHeight,
            };
        }"""
    )

    assert sizes["pageWidth"] <= 1280, sizes
    # The process table's last column is inside its card, not cut off or scrolled away.
    assert sizes["tableWidth"] <= sizes["tableRoom"], sizes
    # The entries scroll inside their card; the page stays a few screens tall.
    assert sizes["listContent"] > sizes["listHeight"], sizes
    assert sizes["pageHeight"] < 4000, sizes
