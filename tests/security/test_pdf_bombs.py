"""PDFs that inflate: the real worker reads each under page, text, time and memory limits,
fails the Dokument for good at once (no retries: the same file would fail again), tells
the uploader why in German, and goes on working with its own memory untouched.

The worker runs with small limits (PDF_MAX_*), so every bomb reaches one within seconds.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.conftest import process_env
from tests.support.dokumente import notifications_of, wait_for_status
from tests.support.factories import Factory
from tests.support.jobs import isolated, job_services, wait_for_state
from tests.support.pdf_bombs import cpu_bomb, many_pages, text_bomb
from tests.support.pdfs import numbered_pdf
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.config import Settings
from ailawyer.db.models import DokumentStatus
from ailawyer.dokumente.upload import IncomingFile, accept_uploads
from ailawyer.dokumente.wording import FAILED_TITLE
from ailawyer.domain.roles import Role
from ailawyer.services import Services

LIMITS = {
    "PDF_MAX_PAGES": "50",
    "PDF_MAX_TEXT_CHARS": "200000",
    # Room for the other bombs to reach their own limit first on a busy machine.
    "PDF_MAX_SECONDS": "8",
    "PDF_MAX_MEMORY_MB": "200",
}
PAGES = "Die Datei hat mehr als 50 Seiten."
TEXT = "Die Datei enthält mehr als 200.000 Zeichen Text."
TIME = "Das Lesen der Datei dauert länger als 8 Sekunden."
MEMORY = "Die Datei braucht zum Lesen mehr als 200 MB Arbeitsspeicher."
# The worker itself holds no PDF: its peak memory stays that of an idle worker.
WORKER_PEAK_RSS_MB = 400


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.fixture
async def strict(
    settings: Settings, services: Services, tmp_path: Path
) -> AsyncIterator[tuple[Services, AilawyerProcess]]:
    """A worker of our own (own key prefix) with small PDF limits, and services to feed it."""
    own = isolated(settings)
    worker = AilawyerProcess(["worker"], process_env(own, **LIMITS), tmp_path / "worker.out")
    try:
        async with job_services(own) as own_services:
            await wait_for_workers(own_services, 1)
            yield own_services, worker
    finally:
        assert worker.stop() == 0, worker.output()[-3000:]


@pytest.mark.timeout(180)
async def test_every_pdf_bomb_fails_for_good_with_a_german_reason_and_the_worker_carries_on(
    strict: tuple[Services, AilawyerProcess], factory: Factory
) -> None:
    own, worker = strict
    kanzlei = await factory.kanzlei()
    anwalt = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    akte = await factory.akte(kanzlei, anwalt=anwalt)
    bombs = {
        "seiten.pdf": (many_pages(400), {PAGES}),
        "text.pdf": (text_bomb(600_000), {TEXT}),
        # Which limit a busy machine reaches first may differ; either one bounds it.
        "rechenzeit.pdf": (cpu_bomb(), {TIME, MEMORY}),
        "speicher.pdf": (text_bomb(70_000_000), {MEMORY, TIME}),
    }
    assert all(len(content) < 500_000 for content, _ in bombs.values())

    created = await accept_uploads(
        own,
        akte_id=akte.id,
        user_id=anwalt.id,
        uploads=[IncomingFile(name, io.BytesIO(content)) for name, (content, _) in bombs.items()],
    )
    reasons: dict[str, str] = {}
    for dokument in created:
        failed = await wait_for_status(own, dokument.id, DokumentStatus.FEHLGESCHLAGEN, within=90)
        job = await wait_for_state(own, "dokumente", failed.job_id or "", "failed", within=10)
        assert job.attemptsMade == 1, f"{dokument.dateiname} was retried"
        assert "PdfLimitExceededError: " in (failed.error or "")
        reasons[dokument.dateiname] = failed.failure_reason or ""

    unexpected = {n: reasons[n] for n, (_, expected) in bombs.items() if reasons[n] not in expected}
    assert unexpected == {}
    told = {n.message: n.title for n in await notifications_of(own, anwalt.id)}
    for name, reason in reasons.items():
        assert told[f"„{name}“ konnte nicht verarbeitet werden. {reason}"] == FAILED_TITLE
    # Still working, and still small.
    [normal] = await accept_uploads(
        own,
        akte_id=akte.id,
        user_id=anwalt.id,
        uploads=[IncomingFile("normal.pdf", io.BytesIO(numbered_pdf(2)))],
    )
    done = await wait_for_status(own, normal.id, DokumentStatus.ABGESCHLOSSEN, within=30)
    assert done.page_count == 2
    assert peak_rss_mb(worker.pid) < WORKER_PEAK_RSS_MB
