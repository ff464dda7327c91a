"""The audit page in a real browser: details in German, and the table fits 1280 px."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from tests.e2e.conftest import log_in
from tests.support.factories import Factory
from tests.support.personas import build_operator

from ailawyer.domain.audit import AuditAction, AuditTarget, record_audit
from ailawyer.services import Services

pytestmark = pytest.mark.browser

UP_TO_MS = 1_780_000_000_000  # 2026-05-28 20:26:40 UTC


async def test_details_read_in_german_and_the_table_fits_1280_px(
    page: Page, factory: Factory, services: Services
) -> None:
    operator = await build_operator(factory)
    entries = [
        (
            AuditAction.SETTING_CHANGE,
            AuditTarget.SETTING,
            "log.level",
            {"old": "INFO", "new": "DEBUG"},
        ),
        (
            AuditAction.JOB_TEST_START,
            AuditTarget.JOB,
            "test/7",
            {"queue": "test", "jobId": "7", "durationMs": 2500, "steps": 4, "failure": "always"},
        ),
        (
            AuditAction.QUEUE_CLEAN,
            AuditTarget.QUEUE,
            "dokumente",
            {"state": "failed", "confirmedCount": 1200, "upToMs": UP_TO_MS, "count": 1199},
        ),
    ]
    async with services.db.session() as db:
        for action, target, target_id, details in entries:
            await record_audit(
                db,
                user=operator,
                action=action,
                target_type=target,
                target_id=target_id,
                details=details,
                ip="2001:db8:85a3::8a2e:370:7334",
                kanzlei_id=None,
            )
        await db.commit()
    await page.set_viewport_size({"width": 1280, "height": 800})
    await log_in(page, operator.email)

    await page.goto("/admin/audit")

    def details(action: str) -> object:
        return page.locator(f'tr[data-action="{action}"] .audit-details')

    setting = details("setting.change")
    await expect(setting.locator("dt")).to_have_text(["Vorher", "Nachher"])
    await expect(setting.locator("dd")).to_have_text(["INFO", "DEBUG"])
    await expect(page.locator('tr[data-action="setting.change"]')).to_contain_text(
        "Einstellung: Protokollstufe"
    )
    test_job = details("job.test_start")
    await expect(test_job.locator("dt")).to_have_text(
        ["Warteschlange", "Vorgangs-ID", "Dauer", "Schritte", "Ergebnis"]
    )
    await expect(test_job.locator("dd")).to_have_text(
        ["Testvorgang (test)", "7", "2,5 s", "4", "Schlägt bei jedem Versuch fehl"]
    )
    clean = details("queue.clean")
    await expect(clean.locator("dt")).to_have_text(
        ["Zustand", "Bestätigte Anzahl", "Stand der Bestätigung", "Anzahl"]
    )
    await expect(clean.locator("dd")).to_have_text(
        ["Fehlgeschlagen", "1.200", "28.05.2026, 22:26:40", "1.199"]
    )

    sizes = await page.evaluate(
        """() => {
            const table = document.querySelector(".audit-table");
            return {
                page: document.documentElement.scrollWidth,
                table: table.scrollWidth,
                room: table.parentElement.clientWidth,
            };
        }"""
    )
    assert sizes["page"] <= 1280 and sizes["table"] <= sizes["room"], sizes
