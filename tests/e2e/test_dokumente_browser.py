"""Dokumente on the Akte page in a real browser: upload, live status, failures with their
reason, retries announced with attempt and time, toasts, retry."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterator

import pytest
from bullmq import Job
from playwright.async_api import BrowserContext, Page, expect
from tests.e2e.conftest import log_in
from tests.support.dokumente import (
    PROCESSING_WITHIN,
    dokumente,
    load,
    notifications_of,
    stored_file,
    wait_for_status,
)
from tests.support.factories import Factory
from tests.support.jobs import wait_for_state, wait_until
from tests.support.pdfs import corrupt_pdf, encrypted_pdf, numbered_pdf
from tests.support.personas import People
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.db.models import Akte, Dokument, DokumentStatus, User
from ailawyer.dokumente.pdf import PdfReaderFailedError
from ailawyer.dokumente.upload import IncomingFile, accept_uploads
from ailawyer.dokumente.wording import FAILED_TITLE, clock_de
from ailawyer.jobs.bullmq_adapter import manual_retries, read_job_fields
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.services import Services
from ailawyer.worker.processors.dokumente import process_dokument

pytestmark = pytest.mark.browser

NewContext = Callable[[], Awaitable[BrowserContext]]
PDF = "application/pdf"
WITHIN_MS = int(PROCESSING_WITHIN * 1000)
# A damaged or encrypted PDF is failed on its first try: the row says so within this.
FAILED_AT_ONCE_MS = 10_000


@pytest.fixture
def page_errors() -> Iterator[list[str]]:
    """Uncaught errors in any page of the test; none are expected."""
    found: list[str] = []
    yield found
    assert not found, f"uncaught errors in the page: {found}"


@pytest.fixture
async def akte(factory: Factory, people: People) -> Akte:
    return await factory.akte(
        people.kanzlei_a, anwalt=people.anwalt_a, kurzrubrum="Müller ./. Schmidt"
    )


@pytest.fixture
async def worker_ready(services: Services, worker_process: AilawyerProcess) -> None:
    await wait_for_workers(services, 1)


async def dokumente_of(services: Services, akte: Akte) -> list[Dokument]:
    """The Dokumente of the test's Akte (the personas bring one of their own)."""
    return [dokument for dokument in await dokumente(services) if dokument.akte_id == akte.id]


async def open_page(new_context: NewContext, user: User, path: str, page_errors: list[str]) -> Page:
    page = await (await new_context()).new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    await log_in(page, user.email)
    await page.goto(path)
    # Connected and in the Akte's room: from now on status changes arrive live.
    await expect(page.locator("#notification-root[data-connection=connected]")).to_have_count(1)
    return page


async def choose_and_upload(page: Page, name: str, content: bytes) -> None:
    await page.get_by_label("PDF-Dateien hinzufügen").set_input_files(
        [{"name": name, "mimeType": PDF, "buffer": content}]
    )
    await page.get_by_role("button", name="Hochladen").click()


async def test_an_uploaded_pdf_turns_processed_without_a_reload_and_a_toast_says_so(
    new_context: NewContext,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
    page_errors: list[str],
) -> None:
    page = await open_page(new_context, people.anwalt_a, f"/akten/{akte.id}", page_errors)
    await page.evaluate("window.__samePage = true")

    await choose_and_upload(page, "Zehn Seiten.pdf", numbered_pdf(10))

    row = page.locator("tr[data-dokument-id]", has_text="Zehn Seiten.pdf")
    await expect(row.locator(".pill")).to_have_text("Verarbeitet", timeout=WITHIN_MS)
    await expect(row).to_contain_text("10")
    toast = page.locator("#toast-stack .toast", has_text="Dokument verarbeitet")
    await expect(toast).to_be_visible()
    assert await page.evaluate("window.__samePage === true"), "the page was not reloaded"

    await row.get_by_role("link", name="Zehn Seiten.pdf").click()
    await expect(page.locator(".dokument-text")).to_contain_text("Seite 10 von 10")


async def test_damaged_and_encrypted_pdfs_fail_at_once_with_their_reason_and_a_short_admin_notice(
    new_context: NewContext,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
    page_errors: list[str],
) -> None:
    admin_page = await open_page(new_context, people.admin_a, "/", page_errors)
    page = await open_page(new_context, people.anwalt_a, f"/akten/{akte.id}", page_errors)

    await page.get_by_label("PDF-Dateien hinzufügen").set_input_files(
        [
            {"name": "Kaputt.pdf", "mimeType": PDF, "buffer": corrupt_pdf()},
            {"name": "Geheim.pdf", "mimeType": PDF, "buffer": encrypted_pdf()},
        ]
    )
    await page.get_by_role("button", name="Hochladen").click()

    # No retries for a file that fails the same way every time: failed within seconds.
    damaged = page.locator("tr[data-dokument-id]", has_text="Kaputt.pdf")
    encrypted = page.locator("tr[data-dokument-id]", has_text="Geheim.pdf")
    await expect(damaged).to_contain_text(
        "Fehlgeschlagen – Die Datei ist beschädigt.", timeout=FAILED_AT_ONCE_MS
    )
    await expect(encrypted).to_contain_text(
        "Fehlgeschlagen – Die Datei ist passwortgeschützt.", timeout=FAILED_AT_ONCE_MS
    )
    await expect(damaged.get_by_role("button", name="Erneut versuchen")).to_be_visible()
    await expect(encrypted.get_by_role("button", name="Erneut versuchen")).to_be_visible()
    toast = page.locator("#toast-stack .toast", has_text="Die Datei ist beschädigt.")
    await expect(toast).to_contain_text(FAILED_TITLE)

    # The administrators' notices are short: the error's class and first line, no trace.
    await expect(admin_page.locator("#notification-count")).to_have_text("2")
    await admin_page.locator("#notification-bell").click()
    notices = admin_page.locator(".notification-item", has_text="Vorgang fehlgeschlagen")
    await expect(notices).to_have_count(2)
    await expect(notices.first).to_contain_text("Versuche: 1 von 4 automatisch")
    await expect(admin_page.locator("#notification-list")).to_contain_text("PdfUnreadableError")
    texts = " ".join(await notices.all_inner_texts())
    assert "Traceback" not in texts and str(services.settings.data_dir) not in texts
    assert ".py" not in texts

    # The Dokument's page says why too, with its own retry button.
    await damaged.get_by_role("link", name="Kaputt.pdf").click()
    await expect(page.locator(".dokument-status")).to_contain_text("Die Datei ist beschädigt.")
    await expect(page.get_by_role("button", name="Erneut versuchen")).to_be_visible()


async def test_retry_from_the_toast_runs_a_failed_pdf_again_and_counts_it_apart(
    new_context: NewContext,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
    page_errors: list[str],
) -> None:
    page = await open_page(new_context, people.anwalt_a, f"/akten/{akte.id}", page_errors)
    await choose_and_upload(page, "Kaputt.pdf", corrupt_pdf())
    toast = page.locator("#toast-stack .toast", has_text=FAILED_TITLE)
    await expect(toast).to_be_visible(timeout=WITHIN_MS)
    [dokument] = await dokumente_of(services, akte)
    await wait_for_state(
        services, "dokumente", dokument.job_id or "", "failed", within=PROCESSING_WITHIN
    )

    await toast.get_by_role("button", name="Erneut versuchen").click()

    # Requeued: it runs (and, still damaged, fails) once more, and says so again.
    job = await wait_until(
        lambda: _retried_and_failed(services, dokument.job_id or ""),
        within=PROCESSING_WITHIN,
        what="a manual retry that failed again",
    )
    assert job.attemptsMade == 1, "a manual retry starts a fresh series"
    await wait_for_status(
        services, dokument.id, DokumentStatus.FEHLGESCHLAGEN, within=PROCESSING_WITHIN
    )
    titles = [n.title for n in await notifications_of(services, people.anwalt_a.id)]
    assert titles.count(FAILED_TITLE) == 2


async def test_a_passing_failure_shows_which_attempt_comes_when(
    new_context: NewContext,
    services: Services,
    isolated_services: Services,
    akte: Akte,
    people: People,
    page_errors: list[str],
) -> None:
    page = await open_page(new_context, people.anwalt_a, f"/akten/{akte.id}", page_errors)
    # Its job waits under a key prefix no worker reads: this test runs the attempt itself,
    # with the page's services, so the page hears the change as from a worker.
    [dokument] = await accept_uploads(
        isolated_services,
        akte_id=akte.id,
        user_id=people.anwalt_a.id,
        uploads=[IncomingFile("Vertrag.pdf", io.BytesIO(numbered_pdf(2)))],
    )
    job = await isolated_services.jobs.get_job("dokumente", dokument.job_id or "")
    assert job is not None
    stored_file(services, dokument).unlink()  # the storage away: worth another try

    with pytest.raises(PdfReaderFailedError):
        await process_dokument(
            JobContext(job=job, queue="dokumente", services=services),
            DokumentPayload.model_validate(job.data),
        )

    waiting = await load(services, dokument.id)
    assert waiting.next_attempt_at is not None
    row = page.locator(f"#dokument-{dokument.id}")
    await expect(row).to_contain_text(
        "Wird erneut versucht – Versuch 2 von 4, nächster Versuch gegen "
        + clock_de(waiting.next_attempt_at, services.settings.display_zone)
    )
    await expect(row.get_by_role("button", name="Erneut versuchen")).to_have_count(0)


async def test_a_user_without_access_can_neither_upload_nor_retry(
    new_context: NewContext,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
    page_errors: list[str],
) -> None:
    owner = await open_page(new_context, people.anwalt_a, f"/akten/{akte.id}", page_errors)
    await choose_and_upload(owner, "Kaputt.pdf", corrupt_pdf())
    await expect(owner.locator("tr[data-status=FEHLGESCHLAGEN]")).to_have_count(
        1, timeout=WITHIN_MS
    )
    [dokument] = await dokumente_of(services, akte)
    await wait_for_state(
        services, "dokumente", dokument.job_id or "", "failed", within=PROCESSING_WITHIN
    )

    page = await open_page(new_context, people.staff_a.kollege, "/", page_errors)
    denied = await page.goto(f"/akten/{akte.id}")
    assert denied is not None and denied.status == 404
    token = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    headers = {"x-csrftoken": token or "", "Accept": "application/json"}
    upload = await page.request.post(
        f"/akten/{akte.id}/dokumente",
        headers=headers,
        multipart={"dateien": {"name": "x.pdf", "mimeType": PDF, "buffer": numbered_pdf(1)}},
    )
    retry = await page.request.post(f"/api/jobs/dokumente/{dokument.job_id}/retry", headers=headers)

    assert upload.status == 404
    assert retry.status == 403
    assert len(await dokumente_of(services, akte)) == 1
    assert await services.jobs.queue("dokumente").getJobState(dokument.job_id or "") == "failed"


async def _retried_and_failed(services: Services, job_id: str) -> Job | None:
    """The job once a manual retry of it has failed again (freshly read), else None."""
    queue = services.jobs.queue("dokumente")
    fields = await read_job_fields(queue, job_id)
    if manual_retries(fields) < 1 or await queue.getJobState(job_id) != "failed":
        return None
    return await services.jobs.get_job("dokumente", job_id)
