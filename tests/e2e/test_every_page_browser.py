"""Every page as each role, in one Chromium (a context per role): no console error, the
version in every footer, the right words on the home page, and error pages that keep a
signed-in user's navigation and Kanzlei.

Set SCREENSHOT_DIR to keep a full-page screenshot of every page at 1280 px there, for a
person to look at (never committed), e.g.
`SCREENSHOT_DIR=/tmp/screens uv run pytest tests/e2e/test_every_page_browser.py`.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from tests.e2e.conftest import TIMEOUT_MS, log_in
from tests.support.personas import People, park_kanzlei_job, park_system_job
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer import __version__
from ailawyer.app.web.admin.jobs.route_support import job_url, queue_url
from ailawyer.db.models import User
from ailawyer.domain.audit import AuditAction, AuditTarget, record_audit
from ailawyer.domain.roles import Role
from ailawyer.services import Services

pytestmark = pytest.mark.browser

WIDTH = 1280
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR", "")
WHOLE_KANZLEI = "Hier finden Sie alle Akten der Kanzlei."
ASSIGNED = "Hier finden Sie die Akten, die Ihnen zugeordnet sind."
# Every signed-in user meets these by mistyping or by an old bookmark.
ERROR_PAGES = [("/gibtsnicht", 404), ("/akten/999999", 404), ("/abmelden", 405)]


@dataclass
class Walk:
    """One role's browser context; remembers every console error with the page it came from."""

    page: Page
    name: str
    base_url: str
    errors: list[str] = field(default_factory=list)
    path: str = ""
    status: int = 200
    # The last visit's response headers.
    headers: dict[str, str] = field(default_factory=dict)

    def remember(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium reports an error page's own status as a failed resource: that is the
        # answer the visit expects, not an error of the page.
        refused = f"Failed to load resource: the server responded with a status of {self.status}"
        if message.text.startswith(refused) and message.location["url"] == self.page.url:
            return
        self.errors.append(f"{self.name} {self.path}: {message.text}")

    async def visit(self, path: str, status: int = 200, *, signed_in: bool = True) -> Page:
        """Open `path`, check its status and footer, wait until it is live; screenshot it."""
        self.path, self.status = path, status
        response = await self.page.goto(path)
        assert response is not None and response.status == status, (self.name, path)
        self.headers = await response.all_headers()
        await expect(self.page.locator("footer")).to_contain_text(f"Version {__version__}")
        if signed_in:
            # The socket is up: the page's scripts have all run (slower on a loaded machine).
            await expect(self.page.locator("#notification-root")).to_have_attribute(
                "data-connection", "connected", timeout=TIMEOUT_MS
            )
        if SCREENSHOT_DIR:
            slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_") or "start"
            await self.page.screenshot(
                path=Path(SCREENSHOT_DIR) / f"{self.name}__{slug}.png", full_page=True
            )
        return self.page


@pytest.fixture
async def walk_context(browser: Browser, live_server: str) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(
        base_url=live_server, locale="de-DE", viewport={"width": WIDTH, "height": 800}
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    await context.close()


async def start_walk(context: BrowserContext, live_server: str, name: str) -> Walk:
    page = await context.new_page()
    walk = Walk(page=page, name=name, base_url=live_server)
    page.on("console", walk.remember)
    page.on("pageerror", lambda error: walk.errors.append(f"{name} {walk.path}: {error}"))
    return walk


async def record_entries(services: Services, people: People) -> None:
    """Audit entries with details of each kind the administration records."""
    async with services.db.session() as db:
        await record_audit(
            db,
            user=people.operator,
            action=AuditAction.SETTING_CHANGE,
            target_type=AuditTarget.SETTING,
            target_id="log.level",
            details={"old": "INFO", "new": "DEBUG"},
            ip="203.0.113.7",
            kanzlei_id=None,
        )
        await record_audit(
            db,
            user=people.operator,
            action=AuditAction.JOB_TEST_START,
            target_type=AuditTarget.JOB,
            target_id="test/7",
            details={"queue": "test", "jobId": "7", "durationMs": 2500, "steps": 4},
            ip="203.0.113.7",
            kanzlei_id=None,
        )
        await record_audit(
            db,
            user=people.admin_a,
            action=AuditAction.JOB_RETRY,
            target_type=AuditTarget.JOB,
            target_id="dokumente/dokument-1",
            details={"queue": "dokumente", "jobId": "dokument-1"},
            ip="203.0.113.8",
        )
        await db.commit()


async def test_a_visitor_sees_the_login_and_an_error_page_with_the_way_to_it(
    walk_context: BrowserContext, live_server: str, services: Services
) -> None:
    walk = await start_walk(walk_context, live_server, "anonym")

    await walk.visit("/anmelden", signed_in=False)
    page = await walk.visit("/gibtsnicht", 404, signed_in=False)

    await expect(page.get_by_role("navigation", name="Hauptnavigation")).to_have_count(0)
    await expect(page.get_by_role("link", name="Zur Anmeldung")).to_be_visible()
    assert walk.errors == []


async def test_a_signed_in_404_keeps_the_navigation_and_the_kanzlei_name(
    walk_context: BrowserContext, live_server: str, people: People
) -> None:
    walk = await start_walk(walk_context, live_server, "sachbearbeiter")
    await log_in(walk.page, people.sachbearbeiter_a.email)

    page = await walk.visit("/gibtsnicht", 404)

    assert walk.headers["cache-control"] == "no-store"
    await expect(page.get_by_role("heading", name="Nicht gefunden")).to_be_visible()
    await expect(page.get_by_role("navigation", name="Hauptnavigation")).to_be_visible()
    await expect(page.locator(".brand__name")).to_have_text(people.kanzlei_a.name)
    await expect(page.get_by_role("link", name="Zur Übersicht")).to_have_attribute("href", "/")
    await expect(page.get_by_role("link", name="Zur Anmeldung")).to_have_count(0)
    # The page is a signed-in page: its logout works.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Abmelden").click()
    await expect(page).to_have_url(re.compile(r"/anmelden"))
    await expect(page.get_by_role("heading", name="Zugriff verweigert")).to_have_count(0)
    assert walk.errors == []


@pytest.mark.parametrize("role", ["betreiber", "admin", "sekretariat", "sachbearbeiter"])
async def test_every_page_as_each_role_has_no_console_error_and_shows_the_version(
    role: str,
    walk_context: BrowserContext,
    live_server: str,
    people: People,
    services: Services,
    worker_process: AilawyerProcess,
) -> None:
    await wait_for_workers(services, 1)
    await record_entries(services, people)
    kanzlei_job = await park_kanzlei_job(services, people)
    akte = f"/akten/{people.akte_a.id}"
    staff_pages = ["/einstellungen", akte, f"{akte}/dokumente/{people.dokument_a.id}"]
    admin_pages = [
        "/admin",
        "/admin/benutzer",
        "/admin/jobs",
        queue_url("dokumente"),
        job_url("dokumente", kanzlei_job),
        queue_url("dokumente") + f"/confirm?aktion=remove&job={kanzlei_job}",
        queue_url("dokumente") + "/add",
        job_url("dokumente", kanzlei_job) + "/edit",
        "/admin/audit",
    ]
    user: User
    if role == "betreiber":
        system_job = await park_system_job(services)
        user, home_text, refused = people.operator, WHOLE_KANZLEI, []
        pages = [
            "/einstellungen",
            *admin_pages,
            queue_url("system"),
            job_url("system", system_job),
            queue_url("test"),
            queue_url("test") + "/confirm?aktion=clean&status=completed",
            queue_url("test") + "/add",
            queue_url("system") + "/schedulers",
            "/admin/jobs/pause-all",
            "/admin/system",
            "/admin/settings",
        ]
    elif role == "admin":
        user, home_text, pages = people.admin_a, WHOLE_KANZLEI, [*staff_pages, *admin_pages]
        refused = [("/admin/system", 403), ("/admin/settings", 403)]
    elif role == "sekretariat":
        user, home_text, pages = people.staff_a[Role.SEKRETARIAT], WHOLE_KANZLEI, staff_pages
        refused = [("/admin", 403)]
    else:
        user, home_text, pages = people.sachbearbeiter_a, ASSIGNED, staff_pages
        refused = [("/admin", 403)]

    walk = await start_walk(walk_context, live_server, role)
    await log_in(walk.page, user.email)
    home = await walk.visit("/")
    await expect(home.locator(".page-header__subtitle")).to_have_text(home_text)
    for path in pages:
        await walk.visit(path)
    for path, status in [*refused, *ERROR_PAGES]:
        error_page = await walk.visit(path, status)
        await expect(error_page.get_by_role("navigation", name="Hauptnavigation")).to_be_visible()
        await expect(error_page.get_by_role("link", name="Zur Übersicht")).to_be_visible()

    assert walk.errors == [], "\n".join(walk.errors)
