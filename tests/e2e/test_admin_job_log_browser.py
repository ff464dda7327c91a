"""A job's page in the browser (issue 12.8): its log filtered and followed live, its data,
options and return value collapsible and copied with one click (static/js/admin/job_detail.js)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from bullmq import Job
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.job_explorer import probe_queue
from tests.support.personas import build_operator

from ailawyer.app.web.admin.jobs.route_support import job_url
from ailawyer.services import Services

pytestmark = pytest.mark.browser


@pytest.fixture
async def operator_page(
    new_context: Callable[..., Awaitable[BrowserContext]], factory: Factory
) -> Page:
    context = await new_context(permissions=["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await log_in(page, (await build_operator(factory)).email)
    return page


async def test_the_log_is_filtered_and_followed_and_the_json_copied(
    operator_page: Page, services: Services
) -> None:
    errors: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    operator_page.on("console", remember)
    async with probe_queue(services, waiting=1) as probe:
        (job_id,) = probe.ids["waiting"]
        job = await Job.fromId(services.jobs.queue(probe.name), job_id)
        for line in ("Akte geladen", "Seite 1 gelesen", "Seite 2 gelesen", "Fertig"):
            await job.log(line)
        page = operator_page
        await page.goto(job_url(probe.name, job_id))
        await expect(page.locator("[data-live-state]").first).to_have_attribute(
            "data-live-state", "live"
        )
        lines = page.locator("[data-job-log] li")
        await expect(lines).to_have_count(4)

        await page.get_by_label("Protokoll filtern").fill("seite")
        await expect(lines.filter(visible=True)).to_have_count(2)
        await expect(page.locator("[data-job-log-shown]")).to_have_text("2 von 4 Zeilen")

        # Following: a line the job writes now appears without a reload, the filter kept.
        await page.get_by_label("Mitlaufen (neue Zeilen zeigen)").check()
        await job.log("Seite 3 gelesen")
        await expect(lines.filter(visible=True)).to_have_count(3)
        await expect(lines.filter(visible=True).last).to_contain_text("Seite 3 gelesen")
        await expect(page.get_by_label("Protokoll filtern")).to_have_value("seite")

        # JSON: data open, options closed until asked for; both copied as shown.
        options = page.locator('[data-json-block="opts"]')
        await expect(options.locator("pre")).to_be_hidden()
        await options.locator("summary").click()
        await expect(options.locator("pre")).to_be_visible()
        data = page.locator('[data-json-block="data"] pre')
        await expect(data).to_be_visible()
        await page.locator('[data-copy="job-data-json"]').click()
        await expect(page.locator('[data-copy="job-data-json"]')).to_have_text("Kopiert")
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert json.loads(copied) == json.loads(await data.text_content() or "")
        assert json.loads(copied)["n"] == 0
    assert errors == []
