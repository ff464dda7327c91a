"""PDF processing end to end: upload over HTTP, the real worker process, the results."""

from __future__ import annotations

import io
import json
import re

import httpx
import pytest
from tests.support.dokumente import (
    PROCESSING_WITHIN,
    dokumente,
    load,
    notifications_of,
    queue_held,
    stored_file,
    upload,
    wait_for_status,
)
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.jobs import job_log, wait_for_state
from tests.support.pdfs import corrupt_pdf, encrypted_pdf, numbered_pdf, scanned_pdf
from tests.support.personas import People
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.db.models import Akte, DokumentStatus, Kanzlei, Severity
from ailawyer.dokumente.upload import IncomingFile, accept_uploads
from ailawyer.dokumente.wording import FAILED_TITLE, TECHNICAL_REASON
from ailawyer.domain.roles import Role
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.services import Services
from ailawyer.worker.processors.dokumente import process_dokument

RETRY_LINE = re.compile(
    r"Wird erneut versucht – Versuch (\d) von 4, nächster Versuch gegen \d\d:\d\d$"
)


@pytest.fixture
async def akte(factory: Factory, people: People) -> Akte:
    return await factory.akte(people.kanzlei_a, anwalt=people.anwalt_a)


@pytest.fixture
async def uploader(
    client: httpx.AsyncClient,
    people: People,
    services: Services,
    worker_process: AilawyerProcess,
) -> httpx.AsyncClient:
    await wait_for_workers(services, 1)
    await login(client, people.anwalt_a.email)
    return client


async def test_a_pdf_is_processed_and_the_uploader_is_told(
    uploader: httpx.AsyncClient,
    services: Services,
    akte: Akte,
    people: People,
    worker_process: AilawyerProcess,
) -> None:
    # The worker runs for the whole session; its lines of this test come after this point.
    log_start = len(worker_process.output())
    response = await upload(uploader, akte.id, [("Vertrag.pdf", numbered_pdf(3))])
    dokument_id = response.json()["dokumente"][0]["id"]

    done = await wait_for_status(
        services, dokument_id, DokumentStatus.ABGESCHLOSSEN, within=PROCESSING_WITHIN
    )

    assert done.page_count == 3
    assert "Seite 2 von 3" in (done.extracted_text or "")
    job = await services.jobs.get_job("dokumente", done.job_id or "")
    assert job is not None
    assert job.progress == 100
    lines = await job_log(services, "dokumente", done.job_id or "")
    assert any(line.endswith("Seite 3/3 gelesen") for line in lines)
    [notice] = await notifications_of(services, people.anwalt_a.id)
    assert (notice.type, notice.title, notice.severity) == (
        "job.completed",
        "Dokument verarbeitet",
        Severity.SUCCESS,
    )
    assert notice.link == f"/akten/{akte.id}"
    page = await uploader.get(f"/akten/{akte.id}/dokumente/{dokument_id}")
    assert page.status_code == 200
    assert "Seite 3 von 3" in page.text
    # The worker's log lines of this job carry its context.
    output = worker_process.output()[log_start:].splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    [started] = [
        line
        for line in lines
        if line.get("message") == "job started" and line.get("jobId") == job.id
    ]
    assert started["queue"] == "dokumente"
    assert started["attempt"] == 1
    assert (started["akteId"], started["userId"]) == (akte.id, people.anwalt_a.id)


@pytest.mark.parametrize(
    ("content", "reason", "technical"),
    [
        (corrupt_pdf(), "Die Datei ist beschädigt.", "PdfUnreadableError: PdfStreamError"),
        (encrypted_pdf(), "Die Datei ist passwortgeschützt.", "PdfEncryptedError"),
    ],
    ids=["corrupt", "encrypted"],
)
async def test_a_damaged_or_encrypted_pdf_fails_at_once_and_everyone_is_told_their_part(
    uploader: httpx.AsyncClient,
    services: Services,
    akte: Akte,
    people: People,
    content: bytes,
    reason: str,
    technical: str,
    worker_process: AilawyerProcess,
) -> None:
    log_start = len(worker_process.output())
    response = await upload(uploader, akte.id, [("Scan.pdf", content)])
    dokument_id = response.json()["dokumente"][0]["id"]

    failed = await wait_for_status(
        services, dokument_id, DokumentStatus.FEHLGESCHLAGEN, within=PROCESSING_WITHIN
    )

    assert failed.failure_reason == reason
    assert technical in (failed.error or "")
    # The Dokument is marked first, then bullmq finishes its bookkeeping.
    job = await wait_for_state(
        services, "dokumente", failed.job_id or "", "failed", within=PROCESSING_WITHIN
    )
    assert job.attemptsMade == 1, "the same file fails the same way: no automatic retry"
    [user_notice] = await notifications_of(services, people.anwalt_a.id)
    assert user_notice.title == FAILED_TITLE
    assert user_notice.message == f"„Scan.pdf“ konnte nicht verarbeitet werden. {reason}"
    assert user_notice.action == {
        "label": "Erneut versuchen",
        "url": f"/api/jobs/dokumente/{job.id}/retry",
        "method": "POST",
    }
    assert "Error" not in user_notice.message + user_notice.title
    [admin_notice] = await notifications_of(services, people.admin_a.id)
    assert admin_notice.type == "job.failed.admin"
    assert f"dokumente #{job.id}" in admin_notice.title
    assert admin_notice.message.splitlines() == [
        "Warteschlange: dokumente",
        f"Akte: {akte.aktenzeichen}",
        f"Fehler: UnprocessableFileError: {job.failedReason}",
        "Versuche: 1 von 4 automatisch",
    ]
    assert technical in admin_notice.message
    assert admin_notice.link == f"/admin/jobs/queues/dokumente/jobs/{job.id}"
    assert admin_notice.data == {
        "queue": "dokumente",
        "jobId": str(job.id),
        "error": f"UnprocessableFileError: {job.failedReason}",
    }
    assert await notifications_of(services, people.admin_b.id) == []
    # The row says why, beside the retry button.
    row = await uploader.get(f"/akten/{akte.id}/dokumente/{dokument_id}/zeile")
    assert f"– {reason}" in row.text
    assert "data-retry-url" in row.text
    # pypdf's warnings about the file stay out of the worker's output: JSON log lines only.
    for line in worker_process.output()[log_start:].splitlines():
        assert line.startswith("{") and json.loads(line), line


async def test_a_scan_without_text_is_processed_and_says_that_no_text_was_found(
    uploader: httpx.AsyncClient, services: Services, akte: Akte, people: People
) -> None:
    response = await upload(uploader, akte.id, [("Scan.pdf", scanned_pdf(1))])
    dokument_id = response.json()["dokumente"][0]["id"]

    done = await wait_for_status(
        services, dokument_id, DokumentStatus.ABGESCHLOSSEN, within=PROCESSING_WITHIN
    )

    assert (done.page_count, done.extracted_text) == (1, "")
    [notice] = await notifications_of(services, people.anwalt_a.id)
    assert notice.message == (
        "„Scan.pdf“ ist verarbeitet (1 Seite) – kein Text gefunden (gescanntes Dokument?)."
    )
    row = await uploader.get(f"/akten/{akte.id}/dokumente/{dokument_id}/zeile")
    assert "Verarbeitet</span>" in row.text
    assert "– kein Text gefunden (gescanntes Dokument?)" in row.text
    page = await uploader.get(f"/akten/{akte.id}/dokumente/{dokument_id}")
    assert "Kein Text gefunden (gescanntes Dokument?)." in page.text


async def test_a_passing_cause_is_retried_with_the_backoff_then_reported_without_a_traceback(
    uploader: httpx.AsyncClient, services: Services, akte: Akte, people: People
) -> None:
    # The worker cannot open the file: not the file's fault (the storage may be back on
    # the next try), so every automatic attempt runs, each announced on the Dokument.
    async with queue_held(services):
        response = await upload(uploader, akte.id, [("Vertrag.pdf", numbered_pdf(2))])
        dokument = await load(services, response.json()["dokumente"][0]["id"])
        stored = stored_file(services, dokument)
        stored.unlink()

    failed = await wait_for_status(
        services, dokument.id, DokumentStatus.FEHLGESCHLAGEN, within=PROCESSING_WITHIN
    )
    job = await wait_for_state(
        services, "dokumente", dokument.job_id or "", "failed", within=PROCESSING_WITHIN
    )

    assert job.attemptsMade == 4
    announced = [line for line in await job_log(services, "dokumente", job.id) if "erneut" in line]
    assert [RETRY_LINE.search(line).group(1) for line in announced] == ["2", "3", "4"]  # type: ignore[union-attr]
    assert failed.failure_reason == TECHNICAL_REASON
    assert "PdfReaderFailedError" in (failed.error or "")
    [admin_notice] = await notifications_of(services, people.admin_a.id)
    assert "Versuche: 4 von 4 automatisch" in admin_notice.message
    for text in (admin_notice.title, admin_notice.message, json.dumps(admin_notice.data)):
        assert "Traceback" not in text
        assert str(services.settings.data_dir) not in text
    [user_notice] = await notifications_of(services, people.anwalt_a.id)
    assert (
        user_notice.message == f"„Vertrag.pdf“ konnte nicht verarbeitet werden. {TECHNICAL_REASON}"
    )


async def test_processing_the_same_dokument_twice_tells_the_user_once(
    isolated_services: Services, factory: Factory
) -> None:
    kanzlei: Kanzlei = await factory.kanzlei()
    anwalt = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    akte = await factory.akte(kanzlei, anwalt=anwalt)
    [dokument] = await accept_uploads(
        isolated_services,
        akte_id=akte.id,
        user_id=anwalt.id,
        uploads=[IncomingFile("a.pdf", io.BytesIO(numbered_pdf(2)))],
    )
    job = await isolated_services.jobs.get_job("dokumente", dokument.job_id or "")
    assert job is not None
    payload = DokumentPayload.model_validate(job.data)
    ctx = JobContext(job=job, queue="dokumente", services=isolated_services)

    first = await process_dokument(ctx, payload)
    second = await process_dokument(ctx, payload)

    assert first["pages"] == 2
    assert second == {"skipped": "already-processed"}
    assert len(await notifications_of(isolated_services, anwalt.id)) == 1
    assert [d.status for d in await dokumente(isolated_services)] == [DokumentStatus.ABGESCHLOSSEN]
