"""The job explorer across Kanzleien: a Kanzlei's ADMIN sees and acts on its own jobs only,
another Kanzlei's job answers 404 everywhere, queue-level actions are the operator's, and
every action on a Kanzlei's jobs is in that Kanzlei's audit log, whoever acted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.support.dokumente import PROCESSING_WITHIN, upload, wait_for_status
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.job_explorer import post_form
from tests.support.jobs import job_state, wait_for_state, wait_until
from tests.support.pdfs import corrupt_pdf
from tests.support.personas import (
    People,
    add_dokument,
    park_dokument_job,
    park_kanzlei_job,
    park_system_job,
)
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.db.models import Akte, AuditLog, DokumentStatus, Kanzlei, User
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.domain.roles import Role
from ailawyer.jobs.kanzlei_counts import CENSUS_SECONDS
from ailawyer.services import Services

ROW = re.compile(r'<tr data-job-id="([^"]+)"')
QUEUE_CARD = re.compile(r'data-queue="([^"]+)" aria-labelledby="queue-')
# The census a Kanzlei's counts come from is reused for a while by the app process.
CENSUS_WITHIN = CENSUS_SECONDS + 10.0
JOB_PAGE = "/admin/jobs/queues/dokumente/jobs/{job}"


@dataclass(frozen=True)
class KanzleiB:
    kanzlei: Kanzlei
    anwalt: User
    akte: Akte


@pytest.fixture
async def kanzlei_b(factory: Factory, people: People) -> KanzleiB:
    """B's lawyer and an Akte of theirs (the personas give B no Akte)."""
    anwalt = people.staff_b[Role.ANWALT]
    return KanzleiB(people.kanzlei_b, anwalt, await factory.akte(people.kanzlei_b, anwalt=anwalt))


async def park_job_of_b(services: Services, b: KanzleiB) -> str:
    """A delayed `dokumente` job of Kanzlei B that no worker touches during the test."""
    dokument = await add_dokument(services, b.akte, b.anwalt)
    return await park_dokument_job(services, b.kanzlei, b.akte, b.anwalt, dokument)


async def failed_jobs(
    live_server: str, services: Services, uploader: User, akte: Akte, count: int
) -> list[str]:
    """`count` Dokumente of `akte` whose processing failed for good; their job ids."""
    async with logged_in(live_server, uploader) as client:
        response = await upload(
            client, akte.id, [(f"kaputt-{n}.pdf", corrupt_pdf()) for n in range(count)]
        )
    ids = []
    for created in response.json()["dokumente"]:
        dokument = await wait_for_status(
            services, created["id"], DokumentStatus.FEHLGESCHLAGEN, within=PROCESSING_WITHIN
        )
        job_id = dokument.job_id or ""
        await wait_for_state(services, "dokumente", job_id, "failed", within=PROCESSING_WITHIN)
        ids.append(job_id)
    return ids


async def audit_rows(services: Services) -> list[tuple[str, int | None, int | None, Any]]:
    """(action, Kanzlei whose log holds it, actor, details) of every entry, oldest first."""
    async with services.db.session() as db:
        rows = (await db.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    return [(r.action, r.kanzlei_id, r.user_id, r.details) for r in rows]


async def get_json(client: httpx.AsyncClient, url: str) -> Any:
    response = await client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


async def test_another_kanzleis_job_answers_404_on_every_route_as_if_it_did_not_exist(
    live_server: str, services: Services, people: People
) -> None:
    job = await park_kanzlei_job(services, people)
    missing = dokument_job_id(10**9)
    page = JOB_PAGE.format(job=job)

    async with logged_in(live_server, people.admin_b) as client:
        token = await csrf_token(client, "/admin/jobs")
        answers = {}
        for job_id in (job, missing):
            gone = JOB_PAGE.format(job=job_id)
            answers[job_id] = [
                (await client.get(gone)).status_code,
                (await client.get(f"{gone}/detail")).status_code,
                (
                    await client.get(
                        f"/admin/jobs/queues/dokumente/confirm?aktion=remove&job={job_id}"
                    )
                ).status_code,
                *[
                    (await post_form(client, f"{gone}/{action}")).status_code
                    for action in ("retry", "remove", "promote")
                ],
                (
                    await client.post(
                        f"/api/jobs/dokumente/{job_id}/retry", headers={"x-csrftoken": token}
                    )
                ).status_code,
            ]
    async with logged_in(live_server, people.admin_a) as client:
        own = await client.get(page)

    assert answers[job] == answers[missing] == [404] * 7
    assert own.status_code == 200 and f'data-job-id="{job}"' in own.text
    assert await job_state(services, "dokumente", job) == "delayed"
    assert await audit_rows(services) == []


async def test_a_kanzlei_admin_counts_lists_and_finds_only_its_own_jobs(
    live_server: str, services: Services, people: People, kanzlei_b: KanzleiB
) -> None:
    jobs_of_a = [await park_kanzlei_job(services, people) for _ in range(2)]
    job_of_b = await park_job_of_b(services, kanzlei_b)
    await park_system_job(services)

    async with logged_in(live_server, people.admin_b) as client:

        async def counted() -> Any:
            counts = (await get_json(client, "/admin/jobs/counts"))["queues"]
            return counts if counts["dokumente"]["counts"]["delayed"] == 1 else None

        counts = await wait_until(counted, within=CENSUS_WITHIN, what="B's counts")
        overview = await client.get("/admin/jobs")
        listed = await client.get("/admin/jobs/queues/dokumente?status=delayed")

        async def found(q: str) -> list[str]:
            page = await client.get("/admin/jobs/queues/dokumente", params={"q": q})
            assert page.status_code == 200
            return ROW.findall(page.text)

        by_akte_of_a = await found(f"akteId={people.akte_a.id}")
        by_id_of_a = await found(jobs_of_a[0])
        by_name = await found("pdf-verarbeitung")
        by_own_akte = await found(f"akteId={kanzlei_b.akte.id}")

    async with logged_in(live_server, people.operator) as client:

        async def everything() -> Any:
            counts = (await get_json(client, "/admin/jobs/counts"))["queues"]
            return counts if counts["dokumente"]["counts"]["delayed"] == 3 else None

        operators = await wait_until(everything, within=CENSUS_WITHIN, what="all counts")

    # Only the queue of Kanzlei jobs, with B's one job; the system queue is the operator's.
    assert set(counts) == {"dokumente"} and sum(counts["dokumente"]["counts"].values()) == 1
    assert set(QUEUE_CARD.findall(overview.text)) == {"dokumente"}
    assert "Testvorgang starten" not in overview.text and "Anhalten" not in overview.text
    assert ROW.findall(listed.text) == [job_of_b]
    assert (by_akte_of_a, by_id_of_a) == ([], [])
    assert by_name == by_own_akte == [job_of_b]
    assert {"dokumente", "system", "test"} <= set(operators)
    assert operators["system"]["counts"]["delayed"] == 1


async def test_queue_level_actions_and_the_installations_jobs_are_the_operators(
    live_server: str, services: Services, people: People
) -> None:
    system_job = await park_system_job(services)
    queue = "/admin/jobs/queues/dokumente"
    bulk = {"bis": "9999999999999", "status": "completed"}

    async with logged_in(live_server, people.admin_a) as client:
        refused = [
            (await post_form(client, f"{queue}/pause")).status_code,
            (await post_form(client, f"{queue}/resume")).status_code,
            (await post_form(client, f"{queue}/retry-failed", bulk)).status_code,
            (await post_form(client, f"{queue}/clean", bulk)).status_code,
            (await post_form(client, "/admin/jobs/test-job", {"dauer": "1"})).status_code,
            (await client.get(f"{queue}/confirm?aktion=clean&status=completed")).status_code,
            (await client.get(f"{queue}/confirm?aktion=retry-failed")).status_code,
            (await client.get("/admin/jobs/queues/system")).status_code,
            (await client.get(f"/admin/jobs/queues/system/jobs/{system_job}")).status_code,
        ]
    paused_by_admin = await services.jobs.queue("dokumente").isPaused()
    async with logged_in(live_server, people.operator) as client:
        paused = await post_form(client, f"{queue}/pause")
        was_paused = await services.jobs.queue("dokumente").isPaused()
        resumed = await post_form(client, f"{queue}/resume")
        system_page = await client.get(f"/admin/jobs/queues/system/jobs/{system_job}")

    assert refused == [403] * 9
    assert not paused_by_admin
    assert (paused.status_code, was_paused, resumed.status_code) == (303, True, 303)
    assert not await services.jobs.queue("dokumente").isPaused()
    assert system_page.status_code == 200
    # Installation-wide: in no Kanzlei's log.
    assert [(a, k) for a, k, _, _ in await audit_rows(services)] == [
        ("queue.pause", None),
        ("queue.resume", None),
    ]


async def test_actions_on_a_kanzleis_jobs_are_in_that_kanzleis_audit_log_whoever_acted(
    live_server: str, services: Services, people: People
) -> None:
    promoted, removed = [await park_kanzlei_job(services, people) for _ in range(2)]
    # Held, so a worker of the run does not start the promoted job.
    await services.jobs.queue("dokumente").pause()
    try:
        async with logged_in(live_server, people.operator) as client:
            promote = await post_form(client, JOB_PAGE.format(job=promoted) + "/promote")
        async with logged_in(live_server, people.admin_a) as client:
            remove = await post_form(client, JOB_PAGE.format(job=removed) + "/remove")
        state = await job_state(services, "dokumente", promoted)
    finally:
        await services.jobs.queue("dokumente").resume()

    assert (promote.status_code, remove.status_code) == (303, 303)
    assert state in ("waiting", "paused")
    assert await services.jobs.get_job("dokumente", removed) is None
    kanzlei_a = people.kanzlei_a.id
    assert [(a, k, u) for a, k, u, _ in await audit_rows(services)] == [
        ("job.promote", kanzlei_a, people.operator.id),
        ("job.remove", kanzlei_a, people.admin_a.id),
    ]


async def test_retries_by_the_operator_are_in_the_audit_log_of_each_kanzlei_they_touched(
    live_server: str,
    services: Services,
    people: People,
    kanzlei_b: KanzleiB,
    worker_process: AilawyerProcess,
) -> None:
    await wait_for_workers(services, 1)
    one_of_a, *others_of_a = await failed_jobs(
        live_server, services, people.sachbearbeiter_a, people.akte_a, 3
    )
    await failed_jobs(live_server, services, kanzlei_b.anwalt, kanzlei_b.akte, 1)
    queue = services.jobs.queue("dokumente")
    await queue.pause()  # the retried jobs wait, so their state can be seen
    try:
        async with logged_in(live_server, people.operator) as client:
            retried = await post_form(client, JOB_PAGE.format(job=one_of_a) + "/retry")
            page = await client.get(
                "/admin/jobs/queues/dokumente/confirm?aktion=retry-failed&status=failed"
            )
            up_to = re.search(r'name="bis" value="(\d+)"', page.text)
            assert up_to is not None
            all_failed = await post_form(
                client, "/admin/jobs/queues/dokumente/retry-failed", {"bis": up_to.group(1)}
            )
        states = {await job_state(services, "dokumente", j) for j in [one_of_a, *others_of_a]}
    finally:
        await queue.resume()

    assert (retried.status_code, all_failed.status_code) == (303, 303)
    assert states <= {"waiting", "paused"}
    operator = people.operator.id
    rows = [(a, k, u, d.get("count")) for a, k, u, d in await audit_rows(services)]
    assert rows == [
        ("job.retry", people.kanzlei_a.id, operator, None),
        # The whole action for the operator, and each Kanzlei's share in its own log.
        ("queue.retry_failed", None, operator, 3),
        ("queue.retry_failed", people.kanzlei_a.id, operator, 2),
        ("queue.retry_failed", kanzlei_b.kanzlei.id, operator, 1),
    ]
