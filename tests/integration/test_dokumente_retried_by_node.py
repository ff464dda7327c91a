"""A `dokumente` job retried by another client (Node's BullMQ, as Bull Board does) does what
our retry does: the Dokument that failed is processed again; a processed one never twice."""

from __future__ import annotations

import httpx
from tests.integration.test_dokumente_retry import akte, failed_dokument, worker_ready
from tests.support.dokumente import (
    PROCESSING_WITHIN,
    load,
    notifications_of,
    stored_file,
    upload,
    wait_for_status,
)
from tests.support.http import login
from tests.support.jobs import job_log, wait_for_state
from tests.support.node_job_actions import node_job_action
from tests.support.pdfs import numbered_pdf
from tests.support.personas import People

from ailawyer.config import Settings
from ailawyer.db.models import Akte, DokumentStatus
from ailawyer.notifications.types import JOB_COMPLETED
from ailawyer.services import Services

__all__ = ["akte", "worker_ready"]  # fixtures shared with test_dokumente_retry


async def test_a_failed_dokument_job_retried_by_node_processes_the_pdf(
    live_server: str,
    services: Services,
    settings: Settings,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)
    # The file is mended where it lies, so the second run has something to read.
    stored_file(services, dokument).write_bytes(numbered_pdf(3))

    assert await node_job_action(settings, "retry", "dokumente", dokument.job_id or "")

    done = await wait_for_status(
        services, dokument.id, DokumentStatus.ABGESCHLOSSEN, within=PROCESSING_WITHIN
    )
    await wait_for_state(
        services, "dokumente", dokument.job_id or "", "completed", within=PROCESSING_WITHIN
    )
    assert done.page_count == 3 and done.error is None and done.failure_reason is None
    lines = await job_log(services, "dokumente", dokument.job_id or "")
    assert any(
        line.endswith("Dokument war fehlgeschlagen; wird erneut verarbeitet") for line in lines
    )
    told = [n.type for n in await notifications_of(services, people.anwalt_a.id)]
    assert told.count(JOB_COMPLETED.key) == 1


async def test_a_processed_dokument_job_retried_by_node_is_not_processed_again(
    live_server: str,
    services: Services,
    settings: Settings,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, people.anwalt_a.email)
        response = await upload(client, akte.id, [("zwei.pdf", numbered_pdf(2))])
    dokument_id = response.json()["dokumente"][0]["id"]
    dokument = await wait_for_status(
        services, dokument_id, DokumentStatus.ABGESCHLOSSEN, within=PROCESSING_WITHIN
    )
    job_id = dokument.job_id or ""
    await wait_for_state(services, "dokumente", job_id, "completed", within=PROCESSING_WITHIN)

    assert await node_job_action(settings, "retry", "dokumente", job_id, state="completed")

    await wait_for_state(services, "dokumente", job_id, "completed", within=PROCESSING_WITHIN)
    job = await services.jobs.get_job("dokumente", job_id)
    assert job is not None and job.returnvalue == {"skipped": "already-processed"}
    again = await load(services, dokument_id)
    assert again.status is DokumentStatus.ABGESCHLOSSEN and again.page_count == 2
    told = [n.type for n in await notifications_of(services, people.anwalt_a.id)]
    assert told.count(JOB_COMPLETED.key) == 1
