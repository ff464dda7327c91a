"""The explorer's live view sees changes made by other clients (Node's BullMQ, as Bull Board
uses it): the app process reads bullmq's events streams (app/realtime/queue_events.py)."""

from __future__ import annotations

import time

import pytest
from playwright.async_api import Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.job_explorer import probe_queue
from tests.support.node_job_actions import node_job_action
from tests.support.personas import build_operator

from ailawyer.app.web.admin.jobs.route_support import job_url
from ailawyer.config import Settings
from ailawyer.services import Services

pytestmark = pytest.mark.browser

WITHIN_MS = 2000


async def test_a_job_removed_by_node_disappears_from_an_open_page_within_two_seconds(
    page: Page, factory: Factory, services: Services, settings: Settings
) -> None:
    await log_in(page, (await build_operator(factory)).email)
    async with probe_queue(services, waiting=2) as probe:
        gone, kept = probe.ids["waiting"]
        await page.goto(f"/admin/jobs/queues/{probe.name}?status=waiting")
        await expect(page.locator("[data-live-state]").first).to_have_attribute(
            "data-live-state", "live"
        )
        rows = page.locator("tr[data-job-id]")
        await expect(rows).to_have_count(2)

        started = time.monotonic()
        assert await node_job_action(settings, "remove", probe.name, gone)
        await expect(page.locator(f'tr[data-job-id="{gone}"]')).to_have_count(0, timeout=WITHIN_MS)
        await expect(page.locator(f'[data-count="{probe.name}:waiting"]').first).to_have_text(
            "1", timeout=WITHIN_MS
        )
        assert time.monotonic() - started < WITHIN_MS / 1000 + 1  # the Node call itself ~0.5 s
        await expect(page.locator(f'tr[data-job-id="{kept}"]')).to_have_count(1)

        # The job's own page says it is gone.
        await page.goto(job_url(probe.name, kept))
        await expect(page.locator("[data-live-state]").first).to_have_attribute(
            "data-live-state", "live"
        )
        assert await node_job_action(settings, "remove", probe.name, kept)
        await expect(page.get_by_text("Dieser Vorgang wurde inzwischen entfernt.")).to_be_visible(
            timeout=WITHIN_MS
        )
