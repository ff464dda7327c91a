"""The browser's own "Benachrichtigungen zulassen?" dialog, answered by a test.

Headless Chromium has no such dialog: `Notification.requestPermission()` refuses at once
unless the permission was granted beforehand, and granting beforehand answers the question
before the page asks it. With `DIALOG` as an init script the request waits until the test
answers, as a person would.
"""

from __future__ import annotations

from playwright.async_api import BrowserContext, Page
from tests.support.jobs import wait_until

DIALOG = """
(() => {
  if (!window.Notification) return;
  window.__permissionAsked = 0;
  Notification.requestPermission = () => {
    window.__permissionAsked += 1;
    return new Promise((resolve) => {
      window.__answerPermission = () => resolve(Notification.permission);
    });
  };
})();
"""


async def allow(context: BrowserContext, page: Page) -> None:
    """Answer the dialog `page` opened with "Zulassen"."""

    async def asked() -> bool:
        return bool(await page.evaluate("window.__permissionAsked > 0"))

    await wait_until(asked, within=5, what="the browser's permission dialog")
    await context.grant_permissions(["notifications"])
    await page.evaluate("window.__answerPermission()")
