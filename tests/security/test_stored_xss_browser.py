"""Stored XSS: markup in every field a user (or a file, a job, a log line) controls is shown
as text on every page that shows it, admin pages included, in a real Chromium.

Each payload would add an element with an id starting "xss-" and set `window.__xss` if it
were ever parsed as HTML. On every page: no such element exists (escaping works, which the
Content-Security-Policy alone would hide), `window.__xss` is unset (nothing ran), the
policy reported no blocked script, and the payload is there as visible text.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from bullmq import Job, Worker
from playwright.async_api import BrowserContext, ConsoleMessage, Page, expect
from tests.e2e.conftest import log_in
from tests.support.dokumente import upload, wait_for_status
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.jobs import wait_for_state
from tests.support.log_files import log_line
from tests.support.notifications import notify
from tests.support.pdfs import numbered_pdf
from tests.support.processes import AilawyerProcess
from tests.support.runtime_settings import wait_until_applied
from tests.support.worker_processes import wait_for_workers

from ailawyer.config import Settings
from ailawyer.db.models import Akte, DokumentStatus, User
from ailawyer.domain.roles import Role
from ailawyer.notifications.types import JOB_COMPLETED
from ailawyer.redis_client import create_redis
from ailawyer.runtime_settings.definitions import MAINTENANCE_BANNER
from ailawyer.services import Services

pytestmark = pytest.mark.browser

NewContext = Callable[[], Awaitable[BrowserContext]]
INJECTED = "Array.from(document.querySelectorAll('[id^=\"xss-\"]')).map(e => e.id)"


def payload(tag: str) -> str:
    """Markup that adds elements and runs script wherever it is parsed as HTML."""
    return (
        f'<img src=x id=xss-{tag} onerror="window.__xss=1">'
        f"<script>window.__xss=1</script><b id=xss-b-{tag}>{tag}</b>"
    )


def file_payload(tag: str) -> str:
    """The same without a slash: an upload keeps only what follows a file name's last one."""
    return f"<img src=x id=xss-{tag} onerror=window.__xss=1><b id=xss-b-{tag}>{tag}.pdf"


def short_payload(tag: str) -> str:
    """For fields of a few dozen characters (the Aktenzeichen)."""
    return f"<i id=xss-{tag}>{tag}</i>"


def shown(tag: str) -> str:
    """What the page text holds where the payload `tag` is shown as text (and only there)."""
    return f"id=xss-{tag}"


@dataclass
class Stored:
    """What was stored with payloads, and where to find it."""

    admin: User
    akte: Akte
    dokument_id: int
    # A queue named with a payload (holding one waiting job), and a failed job elsewhere.
    payload_queue: str
    job_queue: str
    job_id: str
    marker: str
    problems: list[str] = field(default_factory=list)


async def failed_job_with_payloads(services: Services, queue: str) -> str:
    """A job in an undeclared queue whose name, data, log and error are all payloads."""
    job = await services.jobs.queue(queue).add(
        payload("jobname"), {"notiz": payload("jobdata")}, {"attempts": 1}
    )

    async def fail(running: Job, _token: str) -> None:
        await running.log(payload("joblog"))
        raise RuntimeError(payload("fehler"))

    worker = Worker(
        queue,
        fail,
        {
            "connection": create_redis(services.settings.redis_url or ""),
            "prefix": services.jobs.prefix,
        },
    )
    runner = asyncio.create_task(worker.run())
    try:
        await wait_for_state(services, queue, str(job.id), "failed", within=15)
    finally:
        await worker.close()
        await asyncio.gather(runner, return_exceptions=True)
    return str(job.id)


@pytest.fixture
async def stored(
    live_server: str,
    settings: Settings,
    services: Services,
    factory: Factory,
    worker_process: AilawyerProcess,
    defaults_restored: None,
) -> AsyncIterator[Stored]:
    """Payloads in every field: names, Akte, file name, notification, setting, job, log line."""
    marker = uuid.uuid4().hex[:10]
    kanzlei = await factory.kanzlei(payload("kanzlei"))
    # The operator: the explorer pages of its own queues and the system page are theirs.
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei, name=payload("name"), is_operator=True)
    async with services.db.session() as db:
        akte = Akte(
            kanzlei_id=kanzlei.id, aktenzeichen=short_payload("az"), kurzrubrum=payload("rubrum")
        )
        db.add(akte)
        await db.commit()
    await wait_for_workers(services, 1)
    async with logged_in(live_server, admin) as client:
        response = await upload(client, akte.id, [(file_payload("datei"), numbered_pdf(1))])
        dokument_id = response.json()["dokumente"][0]["id"]
        await wait_for_status(services, dokument_id, DokumentStatus.ABGESCHLOSSEN, within=30)
        token = await csrf_token(client, "/admin/settings")
        saved = await client.post(
            "/admin/settings",
            data={MAINTENANCE_BANNER: payload("banner"), "_csrf_token": token},
        )
        assert saved.status_code in (200, 303), saved.text[:500]
    await wait_until_applied(services)
    await notify(
        services.db,
        services.notifications,
        admin.id,
        type=JOB_COMPLETED,
        title=payload("titel"),
        message=payload("nachricht"),
    )
    # No slash (it would split the explorer's URL), and no worker: bullmq names its Redis
    # connection after the queue, and Redis refuses spaces in connection names.
    payload_queue = f"xss-{marker}{payload('queue')}".replace("/", "")
    await services.jobs.queue(payload_queue).add(payload("wartend"), {}, {"attempts": 1})
    job_queue = f"xss-probe-{marker}"
    job_id = await failed_job_with_payloads(services, job_queue)
    # Named like every process's file: <process>-<host>-<pid>.log.
    log_file = settings.effective_log_dir / f"cli-xsshost-{uuid.uuid4().int % 10**9}.log"
    line = log_line(
        time.time(), f"{marker} {payload('log')}", process="cli", jobId=payload("logjob")
    )
    log_file.write_text(line + "\n")
    try:
        yield Stored(admin, akte, dokument_id, payload_queue, job_queue, job_id, marker)
    finally:
        log_file.unlink(missing_ok=True)


async def open_as_admin(new_context: NewContext, stored: Stored) -> Page:
    context = await new_context()
    page = await context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            stored.problems.append(f"{page.url}: the policy blocked something: {message.text}")

    page.on("console", on_console)
    page.on("dialog", lambda dialog: stored.problems.append(f"{page.url}: a dialog opened"))
    await log_in(page, stored.admin.email)
    return page


async def check(page: Page, stored: Stored, tags: list[str], values: dict[str, str]) -> None:
    """After `page` settled: nothing injected or run, and each tag shown as text."""
    where = page.url.replace("%", "%%")
    for tag in tags:
        try:
            await expect(page.locator("body")).to_contain_text(shown(tag), timeout=5000)
        except AssertionError:
            stored.problems.append(f"{where}: {tag} is not shown as text")
    for selector, tag in values.items():
        value = await page.locator(selector).input_value()
        if shown(tag) not in value:
            stored.problems.append(f"{where}: {selector} does not hold {tag} as text")
    if injected := await page.evaluate(INJECTED):
        stored.problems.append(f"{where}: injected elements {injected}")
    if await page.evaluate("window.__xss") is not None:
        stored.problems.append(f"{where}: injected script ran")


async def test_every_stored_payload_is_shown_as_text_and_never_runs(
    new_context: NewContext, stored: Stored, services: Services
) -> None:
    page = await open_as_admin(new_context, stored)
    akte, everywhere = stored.akte, ["name", "kanzlei", "banner"]
    queue = quote(stored.payload_queue, safe="")
    job = f"/admin/jobs/queues/{quote(stored.job_queue)}/jobs/{stored.job_id}"
    pages: dict[str, tuple[list[str], dict[str, str]]] = {
        "/": (["az", "rubrum", *everywhere], {}),
        f"/akten/{akte.id}": (["az", "rubrum", "datei", *everywhere], {}),
        f"/akten/{akte.id}/dokumente/{stored.dokument_id}": (["rubrum", "datei", *everywhere], {}),
        "/einstellungen": (everywhere, {}),
        "/admin": (everywhere, {}),
        "/admin/benutzer": (everywhere, {}),
        "/admin/audit": (["banner", *everywhere], {}),
        "/admin/settings": (everywhere, {"#setting-ui-maintenance_banner": "banner"}),
        f"/admin/system?q={stored.marker}": (["log", "logjob", *everywhere], {}),
        "/admin/jobs": (["queue", *everywhere], {}),
        f"/admin/jobs/queues/{queue}?status=waiting": (["queue", "wartend", *everywhere], {}),
        f"/admin/jobs/queues/{quote(stored.job_queue)}?status=failed": (
            ["jobname", *everywhere],
            {},
        ),
        job: (["jobname", "jobdata", "joblog", "fehler", *everywhere], {}),
        "/admin/jobs/queues/dokumente?status=completed": (["az", "name"], {}),
        # Reflected, too: the search term comes back in the search field.
        f"/admin/jobs/queues/{queue}?q={quote(payload('suche'))}": (
            everywhere,
            {"input[name=q]": "suche"},
        ),
    }

    for path, (tags, values) in pages.items():
        await page.goto(path)
        await check(page, stored, tags, values)

    # The notification center and a toast are built by scripts, from the API's JSON.
    await page.goto("/")
    await page.locator("#notification-bell").click()
    await check(page, stored, ["titel", "nachricht", "datei"], {})
    await notify(
        services.db,
        services.notifications,
        stored.admin.id,
        type=JOB_COMPLETED,
        title=payload("toast"),
        message=payload("toasttext"),
    )
    await expect(page.locator("#toast-stack .toast")).to_contain_text(shown("toast"))
    await check(page, stored, ["toast", "toasttext"], {})

    assert stored.problems == [], "\n".join(stored.problems)


async def test_a_payload_in_the_login_form_or_an_address_comes_back_only_as_text(
    new_context: NewContext,
) -> None:
    context = await new_context()
    page = await context.new_page()
    problems: list[str] = []
    page.on("dialog", lambda dialog: problems.append("a dialog opened"))

    await page.goto("/anmelden?next=" + quote(payload("next")) + "&hinweis=" + quote(payload("h")))
    # The browser would refuse such an address before sending; the server must cope anyway.
    await page.locator("form.form").evaluate("form => { form.noValidate = true; }")
    await page.get_by_label("E-Mail-Adresse").fill(payload("email"))
    await page.get_by_label("Passwort").fill("falsch")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Anmelden").click()
    await expect(page.locator("#login-error")).to_contain_text("falsch")
    await expect(page.get_by_label("E-Mail-Adresse")).to_have_value(payload("email"))
    injected = await page.evaluate(INJECTED)
    for path in ("/" + quote(payload("pfad")), "/akten/" + quote(payload("id"))):
        await page.goto(path)
        await expect(page.locator("body")).to_contain_text("Nicht gefunden")
        injected += await page.evaluate(INJECTED)

    assert injected == []
    assert await page.evaluate("window.__xss") is None
    assert problems == []
