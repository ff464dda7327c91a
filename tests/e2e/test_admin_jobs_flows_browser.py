"""The job explorer in a real browser: a flow Node added (its parent waiting for its children,
the tree from parent to children and back), and the metrics' period selector."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.async_api import ConsoleMessage, Page, expect
from tests.e2e.conftest import log_in
from tests.integration.test_job_metrics_history import write_history
from tests.support.factories import Factory
from tests.support.job_explorer import probe_name
from tests.support.node_bullmq import install, node_bullmq
from tests.support.personas import build_operator

from ailawyer.app.web.admin.jobs.route_support import job_url
from ailawyer.services import Services

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> Iterator[None]:
    install()
    yield


@pytest.fixture
async def operator_page(page: Page, factory: Factory) -> tuple[Page, list[str]]:
    """The operator's browser, and the errors its pages log (a CSP violation among them)."""
    errors: list[str] = []

    def remember(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", remember)
    await log_in(page, (await build_operator(factory)).email)
    return page, errors


async def test_the_waiting_parent_of_a_flow_has_a_tab_and_a_tree_to_its_children(
    operator_page: tuple[Page, list[str]], services: Services
) -> None:
    page, errors = operator_page
    parent_queue, child_queue = probe_name(), probe_name()
    flow = await node_bullmq(
        "flow",
        url=services.settings.redis_url,
        prefix=services.jobs.prefix,
        flow={
            "name": "zusammenfassen",
            "queueName": parent_queue,
            "data": {},
            "children": [
                {"name": "seite", "queueName": child_queue, "data": {"n": n}} for n in (1, 2)
            ],
        },
    )
    parent_id, child_id = flow["id"], flow["children"][0]["id"]

    await page.goto(f"/admin/jobs/queues/{parent_queue}")
    tab = page.get_by_role("navigation", name="Zustände").get_by_role(
        "link", name="Wartet auf Unteraufträge"
    )
    await expect(tab.locator(f'[data-count="{parent_queue}:waiting-children"]')).to_have_text("1")
    await tab.click()
    await expect(tab).to_have_attribute("aria-current", "page")
    await page.locator(f'tr[data-job-id="{parent_id}"]').get_by_role("link", name=parent_id).click()
    await page.wait_for_url(f"**{job_url(parent_queue, parent_id)}")

    state = page.locator("#job-state-title [data-job-state]")
    await expect(state).to_have_text("Wartet auf Unteraufträge")
    tree = page.locator("[data-job-flow]")
    await expect(tree.get_by_text("2 Unteraufträge")).to_be_visible()
    children = tree.locator("[data-flow-child]")
    await expect(children).to_have_count(2)
    await expect(children.locator("[data-job-state]")).to_have_text(["Wartend", "Wartend"])
    await tree.get_by_role("link", name=child_id).click()
    await page.wait_for_url(f"**{job_url(child_queue, child_id)}")

    parent = page.locator("[data-job-flow] [data-flow-parent]")
    await expect(parent).to_contain_text("Übergeordneter Vorgang")
    await expect(parent.locator("[data-job-state]").first).to_have_text("Wartet auf Unteraufträge")
    await parent.get_by_role("link", name=parent_id).click()
    await page.wait_for_url(f"**{job_url(parent_queue, parent_id)}")
    assert errors == []


async def test_the_metrics_show_the_last_hour_day_or_week_as_chosen(
    operator_page: tuple[Page, list[str]], services: Services
) -> None:
    page, errors = operator_page
    await write_history(services.redis, services.settings.redis_key_prefix, time.time())
    completed = page.locator('[data-metrics-queue="test"] [data-metric="completed"]')
    periods = page.get_by_role("navigation", name="Zeitraum der Kennzahlen")

    await page.goto("/admin/jobs/queues/test")
    await expect(page.get_by_role("heading", name="Kennzahlen der letzten Stunde")).to_be_visible()
    await expect(completed).to_have_text("1")
    await expect(periods.get_by_role("link", name="1 Std.")).to_have_attribute(
        "aria-current", "true"
    )

    await periods.get_by_role("link", name="24 Std.").click()
    await expect(
        page.get_by_role("heading", name="Kennzahlen der letzten 24 Stunden")
    ).to_be_visible()
    await expect(completed).to_have_text("3")
    assert "zeitraum=24h" in page.url

    await periods.get_by_role("link", name="7 Tage").click()
    await expect(page.get_by_role("heading", name="Kennzahlen der letzten 7 Tage")).to_be_visible()
    await expect(completed).to_have_text("7")
    await expect(periods.get_by_role("link", name="7 Tage")).to_have_attribute(
        "aria-current", "true"
    )
    # A bar per hour of the week, drawn where jobs finished, each saying its hour.
    chart = page.locator('[data-metrics-queue="test"] svg.minute-chart')
    await expect(chart).to_have_attribute(
        "aria-label",
        "Abgeschlossen und fehlgeschlagen der letzten 7 Tage: 7 abgeschlossen, "
        "1 fehlgeschlagen, höchstens 4 pro Stunde",
    )
    await expect(chart.locator("g")).to_have_count(3)

    # The overview offers the same choice, and keeps it when its panels refresh.
    await page.goto("/admin/jobs")
    overview = page.get_by_role("navigation", name="Zeitraum der Kennzahlen")
    await overview.get_by_role("link", name="24 Std.").click()
    await expect(
        page.get_by_role("heading", name="Kennzahlen der letzten 24 Stunden")
    ).to_be_visible()
    await expect(completed).to_have_text("3")
    assert errors == []
