from __future__ import annotations

import pytest
from playwright.async_api import Page
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.job_explorer import finish, probe_queue
from tests.support.jobs import wait_for_state
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.domain.roles import Role
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

pytestmark = pytest.mark.browser


async def test_screens(page: Page, factory: Factory, services: Services, worker_process: AilawyerProcess) -> None:
    await wait_for_workers(services, 1)
    admin = await factory.user(Role.ADMIN)
    akte = await factory.akte(admin.kanzlei_id)
    ok = [await services.jobs.enqueue("test", AdminTestPayload(duration_ms=30, steps=3, user_id=admin.id, akte_id=akte.id)) for _ in range(5)]
    bad = await services.jobs.enqueue("test", AdminTestPayload(duration_ms=10, steps=2, failure="always"))
    await wait_for_state(services, "test", bad.id, "failed", within=20)
    async with probe_queue(services, completed=3, failed=2, waiting=4, delayed=1, prioritized=2, active=1, log_lines=2) as probe:
        await page.set_viewport_size({"width": 1280, "height": 900})
        await log_in(page, admin.email)
        await page.goto("/admin/jobs")
        await page.wait_for_timeout(800)
        await page.screenshot(path="/tmp/shots/overview.png", full_page=True)
        await page.goto("/admin/jobs/queues/test?status=completed")
        await page.wait_for_timeout(500)
        await page.screenshot(path="/tmp/shots/queue.png", full_page=True)
        await page.goto(f"/admin/jobs/queues/test/jobs/{bad.id}")
        await page.wait_for_timeout(500)
        await page.screenshot(path="/tmp/shots/job.png", full_page=True)
        await page.goto(f"/admin/jobs/queues/{probe.name}?status=failed")
        await page.get_by_role("link", name="Alle entfernen").click()
        await page.wait_for_timeout(500)
        await page.screenshot(path="/tmp/shots/dialog.png", full_page=False)
        await page.set_viewport_size({"width": 375, "height": 800})
        await page.goto(f"/admin/jobs/queues/{probe.name}?status=failed")
        await page.screenshot(path="/tmp/shots/mobile.png", full_page=True)
        await page.goto("/admin/jobs")
        await page.screenshot(path="/tmp/shots/mobile-overview.png", full_page=True)
