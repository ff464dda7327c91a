"""POST /api/jobs/<queue>/<id>/retry: the job's own user, an ADMIN of its Kanzlei, the operator.

403 for everyone else of the Kanzlei, 404 for an unknown job, a malformed id and another
Kanzlei's job (as for an Akte), 409 for a job that is not failed. A manual retry starts a
fresh series of automatic attempts and is counted apart; a Dokument whose job retention
removed is enqueued again from the Dokument.
"""

from __future__ import annotations

import httpx
import pytest
from tests.support.dokumente import (
    PROCESSING_WITHIN,
    notifications_of,
    upload,
    wait_for_status,
)
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in, login
from tests.support.jobs import wait_for_state
from tests.support.pdfs import corrupt_pdf, numbered_pdf
from tests.support.personas import People
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.db.models import Akte, Dokument, DokumentStatus, User
from ailawyer.domain.roles import Role
from ailawyer.services import Services


@pytest.fixture
async def akte(factory: Factory, people: People) -> Akte:
    return await factory.akte(people.kanzlei_a, anwalt=people.anwalt_a)


async def failed_dokument(
    live_server: str, services: Services, akte: Akte, anwalt: User
) -> Dokument:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, anwalt.email)
        response = await upload(client, akte.id, [("kaputt.pdf", corrupt_pdf())])
    dokument_id = response.json()["dokumente"][0]["id"]
    dokument = await wait_for_status(
        services, dokument_id, DokumentStatus.FEHLGESCHLAGEN, within=PROCESSING_WITHIN
    )
    await wait_for_state(
        services, "dokumente", dokument.job_id or "", "failed", within=PROCESSING_WITHIN
    )
    return dokument


async def retry(client: httpx.AsyncClient, user: User | None, url: str) -> httpx.Response:
    """POST like the notification's button does, as `user` (None: already logged in)."""
    if user is not None:
        await login(client, user.email)
    token = await csrf_token(client)
    return await client.post(url, headers={"x-csrftoken": token})


@pytest.fixture
async def worker_ready(services: Services, worker_process: AilawyerProcess) -> None:
    await wait_for_workers(services, 1)


async def test_the_uploader_retries_and_the_dokument_waits_again(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)
    queue = services.jobs.queue("dokumente")
    # Held in the queue, so the state right after the retry can be seen.
    await queue.pause()
    try:
        response = await retry(
            client, people.anwalt_a, f"/api/jobs/dokumente/{dokument.job_id}/retry"
        )

        assert response.status_code == 200, response.text
        assert response.json() == {
            "queue": "dokumente",
            "jobId": dokument.job_id,
            "state": "waiting",
        }
        assert await queue.getJobState(dokument.job_id or "") in {"wait", "paused", "waiting"}
        pending = await wait_for_status(services, dokument.id, DokumentStatus.AUSSTEHEND, within=1)
        assert pending.error is None
    finally:
        await queue.resume()

    # Still a corrupt file: it fails again, and the uploader hears about it again.
    await wait_for_status(
        services, dokument.id, DokumentStatus.FEHLGESCHLAGEN, within=PROCESSING_WITHIN
    )
    titles = [n.title for n in await notifications_of(services, people.anwalt_a.id)]
    assert titles.count("PDF-Verarbeitung fehlgeschlagen. Erneut versuchen?") == 2


async def test_attempts_never_exceed_their_maximum_after_manual_retries(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)
    url = f"/api/jobs/dokumente/{dokument.job_id}/retry"
    await login(client, people.anwalt_a.email)
    for _ in range(2):
        assert (await retry(client, None, url)).status_code == 200
        await wait_for_state(
            services, "dokumente", dokument.job_id or "", "failed", within=PROCESSING_WITHIN
        )

    job = await services.jobs.get_job("dokumente", dokument.job_id or "")
    assert job is not None and job.attemptsMade == 1, "each retry is a fresh series"
    async with logged_in(live_server, people.admin_a) as admin:
        page = await admin.get(f"/admin/jobs/queues/dokumente/jobs/{dokument.job_id}")
        listed = await admin.get("/admin/jobs/queues/dokumente?status=failed")
    assert "1 von 4 automatisch, 2 × manuell wiederholt" in page.text
    assert "1 / 4" in listed.text and "+ 2 × manuell" in listed.text
    # The third final failure tells the administrators in the same words.
    notices = await notifications_of(services, people.admin_a.id)
    assert [n.message.splitlines()[-1] for n in notices] == [
        "Versuche: 1 von 4 automatisch",
        "Versuche: 1 von 4 automatisch, 1 × manuell wiederholt",
        "Versuche: 1 von 4 automatisch, 2 × manuell wiederholt",
    ]


async def test_a_dokument_whose_failed_job_was_removed_is_enqueued_again_from_the_dokument(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)
    # Retention removes failed jobs after some days; the Dokument and its button stay.
    assert await services.jobs.queue("dokumente").remove(dokument.job_id or "") == 1
    url = f"/api/jobs/dokumente/{dokument.job_id}/retry"

    refused = []
    for someone in (people.admin_b, people.staff_a[Role.SEKRETARIAT]):
        async with logged_in(live_server, someone) as other:
            refused.append((await retry(other, None, url)).status_code)
    response = await retry(client, people.anwalt_a, url)

    assert refused == [404, 403]
    assert response.status_code == 200, response.text
    # Run again under the same id (the file is still damaged: it fails again, and says so).
    job = await wait_for_state(
        services, "dokumente", dokument.job_id or "", "failed", within=PROCESSING_WITHIN
    )
    assert job.data == {
        "kanzleiId": people.kanzlei_a.id,
        "userId": people.anwalt_a.id,
        "akteId": akte.id,
        "dokumentId": dokument.id,
    }
    titles = [n.title for n in await notifications_of(services, people.anwalt_a.id)]
    assert titles.count("PDF-Verarbeitung fehlgeschlagen. Erneut versuchen?") == 2


@pytest.mark.parametrize("person", ["admin_a", "operator"])
async def test_an_admin_of_the_kanzlei_and_the_operator_may_retry_any_job_of_it(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
    person: str,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)

    response = await retry(
        client, people.by_name()[person], f"/api/jobs/dokumente/{dokument.job_id}/retry"
    )

    assert response.status_code == 200


async def test_a_colleague_who_did_not_upload_it_gets_403(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)
    # Sees every Akte of the Kanzlei, but did not upload the Dokument.
    sekretariat = people.staff_a[Role.SEKRETARIAT]

    response = await retry(client, sekretariat, f"/api/jobs/dokumente/{dokument.job_id}/retry")

    assert response.status_code == 403
    assert response.json()["detail"] == "Sie dürfen diesen Vorgang nicht erneut starten."
    assert await services.jobs.queue("dokumente").getJobState(dokument.job_id or "") == "failed"


async def test_an_admin_of_another_kanzlei_gets_404_as_if_it_did_not_exist(
    client: httpx.AsyncClient,
    live_server: str,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    dokument = await failed_dokument(live_server, services, akte, people.anwalt_a)

    response = await retry(client, people.admin_b, f"/api/jobs/dokumente/{dokument.job_id}/retry")
    unknown = await retry(client, None, "/api/jobs/dokumente/dokument-999999/retry")

    assert response.status_code == unknown.status_code == 404
    assert response.json() == unknown.json()
    assert await services.jobs.queue("dokumente").getJobState(dokument.job_id or "") == "failed"


@pytest.mark.parametrize(
    "url", ["/api/jobs/dokumente/999999/retry", "/api/jobs/gibt-es-nicht/1/retry"]
)
async def test_an_unknown_job_gets_404(client: httpx.AsyncClient, people: People, url: str) -> None:
    response = await retry(client, people.admin_a, url)

    assert response.status_code == 404


async def test_a_job_that_did_not_fail_gets_409(
    client: httpx.AsyncClient,
    services: Services,
    akte: Akte,
    people: People,
    worker_ready: None,
) -> None:
    await login(client, people.anwalt_a.email)
    response = await upload(client, akte.id, [("gut.pdf", numbered_pdf(1))])
    dokument_id = response.json()["dokumente"][0]["id"]
    done = await wait_for_status(
        services, dokument_id, DokumentStatus.ABGESCHLOSSEN, within=PROCESSING_WITHIN
    )
    await wait_for_state(
        services, "dokumente", done.job_id or "", "completed", within=PROCESSING_WITHIN
    )

    refused = await retry(client, None, f"/api/jobs/dokumente/{done.job_id}/retry")
    # Its job removed by retention, the processed Dokument is still no failed one.
    await services.jobs.queue("dokumente").remove(done.job_id or "")
    gone = await retry(client, None, f"/api/jobs/dokumente/{done.job_id}/retry")

    assert refused.status_code == gone.status_code == 409
    assert await services.jobs.get_job("dokumente", done.job_id or "") is None


async def test_anonymous_callers_get_401(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client, "/anmelden")

    response = await client.post("/api/jobs/dokumente/1/retry", headers={"x-csrftoken": token})

    assert response.status_code == 401
