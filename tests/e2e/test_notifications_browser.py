"""Notifications in a real browser: toasts, bell, center, tabs, system notifications, sounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect
from tests.conftest import process_env
from tests.e2e.conftest import TIMEOUT_MS, log_in
from tests.support import permission_dialog
from tests.support.factories import Factory
from tests.support.jobs import wait_until
from tests.support.notifications import notify
from tests.support.realtime import AppServer

from ailawyer.config import Settings
from ailawyer.db.models import Notification, Severity, User
from ailawyer.domain.roles import Role
from ailawyer.services import Services

pytestmark = pytest.mark.browser

# How long a page may take to show what the test waits for.
WITHIN = 5.0
NewContext = Callable[[], Awaitable[BrowserContext]]
RETRY = {"label": "Erneut versuchen", "url": "/api/jobs/dokumente/42/retry", "method": "POST"}

# Records system notifications while keeping the real constructor (and its permission).
RECORD_SYSTEM_NOTIFICATIONS = """
(() => {
  const Original = window.Notification;
  if (!Original) return;
  window.__systemNotifications = [];
  class Recorded extends Original {
    constructor(title, options) {
      super(title, options);
      window.__systemNotifications.push(this);
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Original.permission });
  Recorded.requestPermission = (...args) => Original.requestPermission(...args);
  window.Notification = Recorded;
})();
"""
# A headless tab is always "visible"; this lets a test hide it the way switching tabs does.
SWITCHABLE_VISIBILITY = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get: () => (hidden ? "hidden" : "visible"),
  });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""
RECORD_SOUNDS = """
(() => {
  window.__played = [];
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    window.__played.push(new URL(this.src).pathname);
    return play.call(this);
  };
})();
"""


class Errors(list[str]):
    """Uncaught page errors; every test here expects none."""

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.append(str(error)))
        return page


@pytest.fixture
def errors() -> Iterator[Errors]:
    found = Errors()
    yield found
    assert not found, f"uncaught errors in the page: {found}"


async def ready(page: Page) -> None:
    """The list is loaded and the socket connected: from now on events arrive live."""
    await expect(page.locator("#notification-loading")).to_be_hidden()
    await expect(page.locator("#notification-root[data-connection=connected]")).to_have_count(1)


async def signed_in(context: BrowserContext, user: User, errors: Errors, path: str = "/") -> Page:
    page = errors.watch(await context.new_page())
    await log_in(page, user.email)
    if path != "/":
        await page.goto(path)
    await ready(page)
    return page


def toasts(page: Page) -> Locator:
    return page.locator("#toast-stack .toast")


async def test_a_notification_shows_a_toast_for_about_five_seconds_and_counts_on_the_bell(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    page = await signed_in(await new_context(), user, errors)

    await notify(
        services.db,
        services.notifications,
        user.id,
        type="job.completed",
        title="Dokument verarbeitet",
        message="12 Seiten erkannt.",
    )

    toast = toasts(page).filter(has_text="Dokument verarbeitet")
    await expect(toast).to_be_visible()
    shown = time.monotonic()
    await expect(toast).to_contain_text("12 Seiten erkannt.")
    await expect(page.locator("#notification-count")).to_have_text("1")
    await expect(page.locator("#notification-bell")).to_have_attribute(
        "aria-label", "Benachrichtigungen, 1 ungelesen"
    )
    await expect(toast).to_have_count(0, timeout=9000)
    assert 4.0 <= time.monotonic() - shown <= 7.0


async def test_hovering_a_toast_keeps_it_until_the_pointer_leaves(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    page = await signed_in(await new_context(), user, errors)
    await notify(services.db, services.notifications, user.id, type="info", title="Bitte lesen")
    toast = toasts(page).filter(has_text="Bitte lesen")
    await expect(toast).to_be_visible()
    shown = time.monotonic()
    await toast.hover()

    # A later toast that nobody hovers: once its five seconds are over, so are the first's.
    await notify(services.db, services.notifications, user.id, type="info", title="Zeuge")
    witness = toasts(page).filter(has_text="Zeuge")
    await expect(witness).to_be_visible()
    # The witness came in below and pushed the first toast away from the pointer.
    await toast.hover()
    await expect(witness).to_have_count(0, timeout=9000)
    await expect(toast).to_be_visible()
    assert time.monotonic() - shown > 5.0
    await page.mouse.move(5, 300)

    await expect(toast).to_have_count(0, timeout=6000)


async def test_the_center_lists_it_and_a_click_opens_the_link_and_marks_it_read(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    akte = await factory.akte(user.kanzlei_id, anwalt=user, kurzrubrum="Müller ./. Schmidt")
    page = await signed_in(await new_context(), user, errors)
    created = await notify(
        services.db,
        services.notifications,
        user.id,
        type="info",
        title="Neues Dokument in der Akte",
        link=f"/akten/{akte.id}",
    )
    await expect(page.locator("#notification-count")).to_have_text("1")

    await page.get_by_role("button", name="Benachrichtigungen, 1 ungelesen").click()
    center = page.get_by_role("dialog", name="Benachrichtigungen")
    item = center.locator(".notification-item", has_text="Neues Dokument in der Akte")
    await expect(item).to_have_class("notification-item notification-item--unread")
    await expect(item).to_contain_text("gerade eben")
    # Anywhere on the row, not only on the title's link.
    await item.locator("time").click()

    await expect(page).to_have_url(f"/akten/{akte.id}")
    await ready(page)
    await expect(page.locator("#notification-count")).to_be_hidden()
    async with services.db.session() as db:
        assert (await db.get(Notification, created.id)).read_at is not None


async def test_the_bell_counts_past_99_and_the_center_says_how_long_ago(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    created = [
        await notify(services.db, services.notifications, user.id, type="info", title=f"Nr. {n}")
        for n in range(100)
    ]
    async with services.db.session() as db:
        oldest = await db.get(Notification, created[-1].id)
        oldest.created_at = datetime.now(UTC) - timedelta(minutes=5)
        await db.commit()

    page = await signed_in(await new_context(), user, errors)

    await expect(page.locator("#notification-count")).to_have_text("99+")
    await page.get_by_role("button", name="Benachrichtigungen, 100 ungelesen").click()
    newest = page.locator(".notification-item").first
    await expect(newest).to_contain_text("Nr. 99")
    await expect(newest).to_contain_text("vor 5 Minuten")
    await expect(page.locator(".notification-item")).to_have_count(50)


async def test_the_center_has_an_empty_state(
    new_context: NewContext, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    page = await signed_in(await new_context(), user, errors)

    await page.locator("#notification-bell").click()

    center = page.get_by_role("dialog", name="Benachrichtigungen")
    await expect(center).to_contain_text("Keine Benachrichtigungen")
    await expect(center.get_by_role("button", name="Alle als gelesen markieren")).to_be_disabled()
    await page.keyboard.press("Escape")
    await expect(center).to_be_hidden()
    await expect(page.locator("#notification-bell")).to_be_focused()


async def test_read_all_in_one_tab_clears_the_badge_in_the_other(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.SEKRETARIAT)
    context = await new_context()
    first = await signed_in(context, user, errors)
    second = errors.watch(await context.new_page())
    await second.goto("/")
    await ready(second)
    for number in range(3):
        await notify(
            services.db, services.notifications, user.id, type="info", title=f"Nr. {number}"
        )
    for tab in (first, second):
        await expect(tab.locator("#notification-count")).to_have_text("3")

    await first.locator("#notification-bell").click()
    await first.get_by_role("button", name="Alle als gelesen markieren").click()
    confirmation = first.get_by_role("dialog", name="Alle als gelesen markieren?")
    await expect(confirmation).to_contain_text(
        "3 ungelesene Benachrichtigungen werden als gelesen markiert."
    )
    await confirmation.get_by_role("button", name="Als gelesen markieren").click()

    await expect(first.locator("#notification-count")).to_be_hidden()
    await expect(second.locator("#notification-count")).to_be_hidden()
    await second.locator("#notification-bell").click()
    await expect(second.locator(".notification-item--unread")).to_have_count(0)
    await expect(second.locator(".notification-item")).to_have_count(3)


async def test_a_script_in_a_message_is_shown_as_text(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    page = await signed_in(await new_context(), user, errors)
    message = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>fett</b>'

    await notify(
        services.db,
        services.notifications,
        user.id,
        type="info",
        title="<i>Titel</i>",
        message=message,
    )

    toast = toasts(page).filter(has_text="<i>Titel</i>")
    await expect(toast.locator(".toast__message")).to_have_text(message)
    await page.locator("#notification-bell").click()
    item = page.locator(".notification-item").first
    await expect(item.locator(".notification-item__message")).to_have_text(message)
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("#toast-stack b, #toast-stack img, .notification-list i").count() == 0


async def test_a_failed_job_shows_its_retry_button_in_toast_and_center(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.SACHBEARBEITER)
    page = await signed_in(await new_context(), user, errors)

    await notify(
        services.db,
        services.notifications,
        user.id,
        type="job.failed",
        title="PDF-Verarbeitung fehlgeschlagen",
        message="Erneut versuchen?",
        severity=Severity.ERROR,
        action=RETRY,
    )

    toast = toasts(page).filter(has_text="PDF-Verarbeitung fehlgeschlagen")
    await expect(toast.get_by_role("button", name="Erneut versuchen")).to_be_visible()
    await expect(toast).to_have_class("toast toast--error")
    await page.locator("#notification-bell").click()
    center = page.get_by_role("dialog", name="Benachrichtigungen")
    await expect(center.get_by_role("button", name="Erneut versuchen")).to_be_visible()


async def test_an_action_button_calls_its_endpoint_and_reports_failure_in_german(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    page = await signed_in(await new_context(), user, errors)
    await notify(services.db, services.notifications, user.id, type="info", title="Alt")
    await notify(
        services.db,
        services.notifications,
        user.id,
        type="info",
        title="Alles erledigt?",
        action={"label": "Alle gelesen", "url": "/api/notifications/read-all", "method": "POST"},
    )
    await notify(
        services.db,
        services.notifications,
        user.id,
        type="info",
        title="Geht nicht",
        action={"label": "Ins Leere", "url": "/api/gibt-es-nicht", "method": "POST"},
    )
    await expect(page.locator("#notification-count")).to_have_text("3")
    await page.locator("#notification-bell").click()
    center = page.get_by_role("dialog", name="Benachrichtigungen")

    await center.get_by_role("button", name="Ins Leere").click()
    await expect(center.get_by_role("alert")).to_have_text(
        "Das hat leider nicht geklappt. Bitte versuchen Sie es später erneut."
    )
    await center.get_by_role("button", name="Alle gelesen").click()

    await expect(center.get_by_role("button", name="Erledigt")).to_be_disabled()
    await expect(page.locator("#notification-count")).to_be_hidden()
    async with services.db.session() as db:
        assert (await services.notifications.unread(db, user.id)).count == 0


async def test_a_browser_that_allowed_them_is_not_asked_again_and_its_hidden_tabs_notify(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    akte = await factory.akte(user.kanzlei_id, anwalt=user)
    context = await new_context()
    await context.add_init_script(RECORD_SYSTEM_NOTIFICATIONS)
    await context.add_init_script(SWITCHABLE_VISIBILITY)
    await context.add_init_script(permission_dialog.DIALOG)
    page = await signed_in(context, user, errors)
    question = page.get_by_role("region", name="Benachrichtigungen auf dem Bildschirm")

    await expect(question).to_be_visible()
    await question.get_by_role("button", name="Aktivieren").click()
    await permission_dialog.allow(context, page)
    await expect(question).to_be_hidden()

    await page.get_by_role("button", name="Abmelden").click()
    await log_in(page, user.email)
    await ready(page)
    await expect(question).to_be_hidden()

    await page.evaluate("window.__setHidden(true)")

    async def system_notifications() -> int:
        return await page.evaluate("window.__systemNotifications.length")

    await notify(
        services.db,
        services.notifications,
        user.id,
        type="info",
        title="Frist läuft ab",
        message="Morgen 12:00",
        link=f"/akten/{akte.id}",
    )
    await wait_until(system_notifications, within=WITHIN, what="a system notification")
    shown = await page.evaluate(
        "window.__systemNotifications.map(n => ({title: n.title, body: n.body}))"
    )
    assert shown == [{"title": "Frist läuft ab", "body": "Morgen 12:00"}]

    await page.evaluate("window.__systemNotifications[0].dispatchEvent(new Event('click'))")
    await expect(page).to_have_url(f"/akten/{akte.id}")


async def test_a_visible_tab_gets_no_system_notification(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    context = await new_context()
    await context.grant_permissions(["notifications"])
    await context.add_init_script(RECORD_SYSTEM_NOTIFICATIONS)
    page = await signed_in(context, user, errors)

    await notify(services.db, services.notifications, user.id, type="info", title="Sichtbar")

    await expect(toasts(page).filter(has_text="Sichtbar")).to_be_visible()
    assert await page.evaluate("window.__systemNotifications.length") == 0


async def test_sounds_play_only_for_the_events_chosen_in_the_settings(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    context = await new_context()
    await context.add_init_script(RECORD_SOUNDS)
    page = await signed_in(context, user, errors, "/einstellungen")
    await page.get_by_label("Verarbeitung fehlgeschlagen").check()
    await page.get_by_role("button", name="Speichern").click()
    await expect(page.get_by_text("Ihre Einstellungen wurden gespeichert.")).to_be_visible()
    await ready(page)

    await notify(services.db, services.notifications, user.id, type="job.completed", title="Fertig")
    await notify(services.db, services.notifications, user.id, type="job.failed", title="Fehler")
    # Sent last: once its sound has played, a sound for "Fertig" would have played before.
    await notify(services.db, services.notifications, user.id, type="job.failed", title="Zuletzt")

    await expect(toasts(page)).to_have_count(3)

    async def played() -> list[str]:
        # Sounds start a moment later (one tab claims each, via the Web Locks API).
        sounds = await page.evaluate("window.__played")
        return sounds if len(sounds) >= 2 else []

    failed = "/static/vendor/sounds/job-failed.wav"
    assert await wait_until(played, within=WITHIN, what="two sounds") == [failed, failed]


async def test_logging_out_in_one_tab_sends_the_other_tab_to_the_login(
    new_context: NewContext, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    context = await new_context()
    leaving = await signed_in(context, user, errors)
    staying = errors.watch(await context.new_page())
    await staying.goto("/")
    await ready(staying)

    await leaving.get_by_role("button", name="Abmelden").click()

    await expect(staying).to_have_url("/anmelden?hinweis=abgemeldet", timeout=3000)
    await expect(staying.get_by_text("Sie wurden abgemeldet.")).to_be_visible()


async def test_an_akte_page_receives_the_events_of_its_akte(
    new_context: NewContext, services: Services, factory: Factory, errors: Errors
) -> None:
    user = await factory.user(Role.ANWALT)
    akte = await factory.akte(user.kanzlei_id, anwalt=user)
    page = await signed_in(await new_context(), user, errors, f"/akten/{akte.id}")
    await page.evaluate(
        """import("/static/js/realtime.js").then((realtime) =>
             realtime.on("probe", (data) => { window.__probe = data; }))"""
    )

    async def received() -> bool:
        # The page joins right after connecting; send again until the join has landed.
        await services.emitter.to_akte(akte.id).emit("probe", {"akte": akte.id})
        await asyncio.sleep(0.1)
        return await page.evaluate("window.__probe") is not None

    await wait_until(received, within=WITHIN, what="the Akte's event")
    assert await page.evaluate("window.__probe") == {"akte": akte.id}


@pytest.fixture
def own_app(settings: Settings, tmp_path: Path) -> Iterator[AppServer]:
    """An app process of this test's own, to stop and start while the page stays open."""
    server = AppServer(process_env(settings), tmp_path / "serve.out")
    yield server.start()
    server.stop()


async def test_notifications_missed_while_the_server_was_away_appear_once_after_reconnect(
    browser: Browser,
    own_app: AppServer,
    services: Services,
    factory: Factory,
    errors: Errors,
) -> None:
    user = await factory.user(Role.ANWALT)
    context = await browser.new_context(base_url=own_app.url, locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = await signed_in(context, user, errors)
        await notify(services.db, services.notifications, user.id, type="info", title="Vorher")
        await expect(page.locator("#notification-count")).to_have_text("1")

        own_app.stop()
        await expect(page.locator("#notification-root[data-connection=offline]")).to_have_count(1)
        for title in ("Verpasst 1", "Verpasst 2"):
            await notify(services.db, services.notifications, user.id, type="info", title=title)
        own_app.start()

        await expect(page.locator("#notification-count")).to_have_text("3", timeout=20_000)
        await expect(toasts(page).filter(has_text="Verpasst")).to_have_count(2)
        await notify(services.db, services.notifications, user.id, type="info", title="Danach")
        await expect(page.locator("#notification-count")).to_have_text("4")
        await page.locator("#notification-bell").click()
        titles = await page.locator(".notification-item__title").all_inner_texts()
        assert titles == ["Danach", "Verpasst 2", "Verpasst 1", "Vorher"]
    finally:
        await context.close()
