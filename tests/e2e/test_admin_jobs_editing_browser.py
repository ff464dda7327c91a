"""The explorer's editing views in a real browser: a job added through the form (refused data
answered in German first), its data changed while it is delayed, and a queue's scheduler
listed, changed to a pattern and removed after the dialog's question."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import ConsoleMessage, Page, expect
from sqlalchemy import select
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.job_explorer import probe_name
from tests.support.personas import build_operator

from ailawyer.db.models import AuditLog
from ailawyer.services import Services

pytestmark = pytest.mark.browser


@pytest.fixture
async def operator_page(page: Page, factory: Factory) -> AsyncIterator[Page]:
    """The operator's browser; no page of the test may log an error (a CSP violation would).
    A refused form answers 422, which Chromium reports as a failed resource: not an error."""
    errors: list[str] = []
    refused = "Failed to load resource: the server responded with a status of 422"

    def remember(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(refused):
            errors.append(message.text)

    page.on("console", remember)
    await log_in(page, (await build_operator(factory)).email)
    yield page
    assert errors == []


async def audited(services: Services) -> list[str]:
    async with services.db.session() as db:
        return list((await db.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def test_a_job_is_added_through_the_form_and_its_delayed_data_changed(
    operator_page: Page, services: Services
) -> None:
    page = operator_page
    await page.goto("/admin/jobs/queues/test")
    await page.get_by_role("link", name="Vorgang hinzufügen").click()
    await expect(page.locator('[data-payload-field="steps"]')).to_contain_text("Schritte")

    data = page.get_by_label("Daten (JSON)")
    await data.fill('{"steps": 0}')
    await page.get_by_role("button", name="Vorgang hinzufügen").click()
    await expect(page.locator("[data-form-errors]")).to_contain_text(
        "„Schritte“ (steps) muss mindestens 1 sein."
    )
    await expect(data).to_have_value('{"steps": 0}')

    await data.fill('{"durationMs": 0, "steps": 2}')
    await page.get_by_label("Verzögerung in Sekunden").fill("3600")
    await page.get_by_role("button", name="Vorgang hinzufügen").click()
    await expect(page.locator("[data-notice]")).to_have_text("Der Vorgang wurde hinzugefügt.")
    await expect(page.locator("[data-job-state]").first).to_have_text("Verzögert")

    await page.get_by_role("link", name="Daten ändern").click()
    await page.get_by_label("Daten (JSON)").fill('{"durationMs": 0, "steps": 4}')
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.locator("[data-notice]")).to_have_text(
        "Die Daten des Vorgangs wurden geändert."
    )
    await expect(page.locator("[data-job-data]")).to_contain_text('"steps": 4')
    assert await audited(services) == ["job.add", "job.change_data"]


async def test_a_scheduler_is_listed_changed_to_a_pattern_and_removed(
    operator_page: Page, services: Services
) -> None:
    page = operator_page
    name = probe_name()
    await services.jobs.queue(name).upsertJobScheduler(
        "takt", {"every": 3_600_000}, "sonde", {"n": 1}
    )
    await page.goto(f"/admin/jobs/queues/{name}")
    await page.get_by_role("link", name="Zeitpläne").click()
    row = page.locator('tr[data-scheduler-id="takt"]')
    await expect(row).to_contain_text("alle 1 Std. 0 Min.")

    await row.get_by_role("link", name="Ändern").click()
    await page.get_by_role("radio", name="Cron-Muster").check()
    await page.get_by_role("textbox", name="Cron-Muster").fill("30 2 * * *")
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.locator("[data-notice]")).to_have_text("Der Zeitplan wurde geändert.")
    await expect(row.locator("[data-scheduler-pattern]")).to_have_text("30 2 * * *")

    await row.get_by_role("link", name="Entfernen").click()
    dialog = page.locator("dialog#confirm-dialog")
    await expect(dialog).to_contain_text("Zeitplan takt")
    await dialog.get_by_role("button", name="Zeitplan entfernen").click()
    await expect(page.locator("[data-notice]")).to_have_text(
        "Der Zeitplan wurde mit seinem nächsten Lauf entfernt."
    )
    await expect(page.get_by_text("Diese Warteschlange hat keine Zeitpläne.")).to_be_visible()
    assert await audited(services) == ["scheduler.change", "scheduler.remove"]
