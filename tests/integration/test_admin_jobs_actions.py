"""The explorer's actions over HTTP: each changes the job or queue through bullmq, says so
on the page it returns to, is audited, and bulk actions touch what their confirmation
counted and nothing that came after."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from tests.support.dokumente import upload, wait_for_status
from tests.support.factories import Factory
from tests.support.http import logged_in
from tests.support.job_explorer import finish, post_form, probe_queue
from tests.support.jobs import job_state, wait_for_state
from tests.support.pdfs import corrupt_pdf
from tests.support.processes import AilawyerProcess
from tests.support.worker_processes import wait_for_workers

from ailawyer.db.models import AuditLog, DokumentStatus, User
from ailawyer.domain.roles import Role
from ailawyer.jobs.bullmq_adapter import read_counts
from ailawyer.services import Services

CONFIRM_COUNT = re.compile(r'data-confirm-count="(\d+)"')
UP_TO = re.compile(r'name="bis" value="(\d+)"')


async def audit_entries(services: Services) -> list[tuple[str, str, str, dict[str, object]]]:
    async with services.db.session() as db:
        rows = (await db.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    return [(r.action, r.target_type or "", r.target_id or "", r.details or {}) for r in rows]


def notice(response: httpx.Response) -> tuple[str, str | None]:
    """Where a redirect goes and the notice it asks for."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    return location.path, query.get("hinweis", [None])[0]


async def confirmation(client: httpx.AsyncClient, queue: str, **params: str) -> tuple[int, str]:
    """The count a confirmation names and the moment (`bis`) it was made."""
    page = await client.get(f"/admin/jobs/queues/{queue}/confirm", params=params)
    assert page.status_code == 200, page.text
    (count,) = set(CONFIRM_COUNT.findall(page.text))
    return int(count), UP_TO.search(page.text).group(1)  # type: ignore[union-attr]


async def test_retrying_a_failed_job_puts_it_back_to_waiting_and_is_audited(
    operator_client: httpx.AsyncClient, services: Services, operator: User
) -> None:
    async with probe_queue(services, failed=1, completed=1) as probe:
        (failed,) = probe.ids["failed"]
        (completed,) = probe.ids["completed"]
        back = f"/admin/jobs/queues/{probe.name}?status=failed"

        retried = await post_form(
            operator_client,
            f"/admin/jobs/queues/{probe.name}/jobs/{failed}/retry",
            {"zurueck": back},
        )
        refused = await post_form(
            operator_client, f"/admin/jobs/queues/{probe.name}/jobs/{completed}/retry"
        )

        assert notice(retried) == (f"/admin/jobs/queues/{probe.name}", "retried")
        assert await job_state(services, probe.name, failed) == "waiting"
        assert notice(refused) == (
            f"/admin/jobs/queues/{probe.name}/jobs/{completed}",
            "not-failed",
        )
    assert await audit_entries(services) == [
        ("job.retry", "job", f"{probe.name}/{failed}", {"queue": probe.name, "jobId": failed})
    ]


async def test_removing_a_job_asks_first_and_spares_running_jobs(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, waiting=1, active=1) as probe:
        (waiting,) = probe.ids["waiting"]
        (active,) = probe.ids["active"]
        count, _ = await confirmation(operator_client, probe.name, aktion="remove", job=waiting)

        removed = await post_form(
            operator_client,
            f"/admin/jobs/queues/{probe.name}/jobs/{waiting}/remove",
            {"zurueck": f"/admin/jobs/queues/{probe.name}/jobs/{waiting}"},
        )
        locked = await post_form(
            operator_client, f"/admin/jobs/queues/{probe.name}/jobs/{active}/remove"
        )

        assert count == 1
        # The job's own page is gone: back to its queue.
        assert notice(removed) == (f"/admin/jobs/queues/{probe.name}", "removed")
        assert await services.jobs.get_job(probe.name, waiting) is None
        assert notice(locked)[1] == "locked"
        assert await job_state(services, probe.name, active) == "active"
    assert [(a, t) for a, t, _, _ in await audit_entries(services)] == [("job.remove", "job")]
    assert (await audit_entries(services))[0][3]["state"] == "waiting"


async def test_promoting_starts_a_delayed_job_now(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, delayed=1, waiting=1) as probe:
        (delayed,) = probe.ids["delayed"]
        (waiting,) = probe.ids["waiting"]

        promoted = await post_form(
            operator_client, f"/admin/jobs/queues/{probe.name}/jobs/{delayed}/promote"
        )
        refused = await post_form(
            operator_client, f"/admin/jobs/queues/{probe.name}/jobs/{waiting}/promote"
        )

        assert notice(promoted)[1] == "promoted"
        assert await job_state(services, probe.name, delayed) == "waiting"
        assert notice(refused)[1] == "not-delayed"
    assert [a for a, _, _, _ in await audit_entries(services)] == ["job.promote"]


async def test_pausing_and_resuming_a_queue_is_seen_by_every_worker_and_audited(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, waiting=1) as probe:
        paused = await post_form(operator_client, f"/admin/jobs/queues/{probe.name}/pause")
        counts = await operator_client.get(
            "/admin/jobs/counts", headers={"Accept": "application/json"}
        )
        assert notice(paused)[1] == "paused"
        assert await services.jobs.queue(probe.name).isPaused()
        assert counts.json()["queues"][probe.name]["paused"] is True

        resumed = await post_form(operator_client, f"/admin/jobs/queues/{probe.name}/resume")
        assert notice(resumed)[1] == "resumed"
        assert not await services.jobs.queue(probe.name).isPaused()
    assert [(a, t, i) for a, t, i, _ in await audit_entries(services)] == [
        ("queue.pause", "queue", probe.name),
        ("queue.resume", "queue", probe.name),
    ]


async def test_retry_all_retries_exactly_the_failed_jobs_its_confirmation_counted(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, failed=3) as probe:
        count, up_to = await confirmation(
            operator_client, probe.name, aktion="retry-failed", status="failed"
        )
        # Fails after the question was asked: not part of what the operator confirmed.
        (later,) = await finish(services, probe.name, [({"outcome": "fail", "n": 9}, {})])

        answer = await post_form(
            operator_client,
            f"/admin/jobs/queues/{probe.name}/retry-failed",
            {"bis": up_to, "anzahl": count, "zurueck": f"/admin/jobs/queues/{probe.name}"},
        )

        assert count == 3
        assert notice(answer)[1] == "retried-all"
        assert parse_qs(urlsplit(answer.headers["location"]).query)["anzahl"] == ["3"]
        for job_id in probe.ids["failed"]:
            assert await job_state(services, probe.name, job_id) == "waiting"
        assert await job_state(services, probe.name, later) == "failed"
    ((action, target, queue, details),) = await audit_entries(services)
    assert (action, target, queue) == ("queue.retry_failed", "queue", probe.name)
    assert (details["count"], details["confirmedCount"]) == (3, 3)


async def test_clean_removes_exactly_the_jobs_its_confirmation_counted(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, completed=4, failed=1) as probe:
        count, up_to = await confirmation(
            operator_client, probe.name, aktion="clean", status="completed"
        )
        (later,) = await finish(services, probe.name, [({"outcome": "complete", "n": 9}, {})])

        answer = await post_form(
            operator_client,
            f"/admin/jobs/queues/{probe.name}/clean",
            {"status": "completed", "bis": up_to, "anzahl": count},
        )

        assert count == 4
        assert notice(answer)[1] == "cleaned"
        counts = (await read_counts(services.jobs.queue(probe.name))).counts
        assert (counts["completed"], counts["failed"]) == (1, 1)
        assert await job_state(services, probe.name, later) == "completed"
    ((action, _, _, details),) = await audit_entries(services)
    assert action == "queue.clean"
    assert (details["state"], details["count"], details["confirmedCount"]) == ("completed", 4, 4)


async def test_a_confirmation_without_jobs_offers_nothing_to_confirm(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, completed=1) as probe:
        count, _ = await confirmation(operator_client, probe.name, aktion="clean", status="failed")
        page = await operator_client.get(
            f"/admin/jobs/queues/{probe.name}/confirm",
            params={"aktion": "clean", "status": "active"},
        )
    assert count == 0
    assert page.status_code == 404  # active jobs belong to a worker


async def test_starting_a_test_job_enqueues_it_with_the_chosen_settings(
    operator_client: httpx.AsyncClient, services: Services, operator: User
) -> None:
    await services.jobs.queue("test").pause()  # whatever worker runs: the job stays put
    try:
        answer = await post_form(
            operator_client,
            "/admin/jobs/test-job",
            {"dauer": "2,5", "schritte": "4", "ergebnis": "always"},
        )
        path, hint = notice(answer)
        job_id = path.rsplit("/", 1)[1]
        job = await services.jobs.get_job("test", job_id)
    finally:
        await services.jobs.queue("test").resume()

    assert (path.rsplit("/", 1)[0], hint) == ("/admin/jobs/queues/test/jobs", "test-started")
    assert job is not None
    assert job.data == {"userId": operator.id, "durationMs": 2500, "steps": 4, "failure": "always"}
    assert [a for a, _, _, _ in await audit_entries(services)] == ["job.test_start"]


async def test_retry_all_of_the_dokumente_queue_resets_each_dokument_first(
    live_server: str,
    operator_client: httpx.AsyncClient,
    services: Services,
    factory: Factory,
    worker_process: AilawyerProcess,
) -> None:
    await wait_for_workers(services, 1)
    anwalt = await factory.user(Role.ANWALT)
    akte = await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)
    async with logged_in(live_server, anwalt) as client:
        response = await upload(
            client, akte.id, [("a.pdf", corrupt_pdf()), ("b.pdf", corrupt_pdf())]
        )
    ids = [d["id"] for d in response.json()["dokumente"]]
    failed = [
        await wait_for_status(services, i, DokumentStatus.FEHLGESCHLAGEN, within=20) for i in ids
    ]
    for dokument in failed:
        await wait_for_state(services, "dokumente", dokument.job_id or "", "failed", within=5)
    queue = services.jobs.queue("dokumente")
    await queue.pause()  # hold the retried jobs, so their state right after can be seen
    try:
        count, up_to = await confirmation(
            operator_client, "dokumente", aktion="retry-failed", status="failed"
        )
        answer = await post_form(
            operator_client, "/admin/jobs/queues/dokumente/retry-failed", {"bis": up_to}
        )
        assert (count, notice(answer)[1]) == (2, "retried-all")
        for dokument in failed:
            await wait_for_status(services, dokument.id, DokumentStatus.AUSSTEHEND, within=1)
            assert await job_state(services, "dokumente", dokument.job_id or "") == "waiting"
    finally:
        await queue.resume()
