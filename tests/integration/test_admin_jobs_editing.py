"""Editing in the job explorer over HTTP: adding a job with checked data, duplicating one,
changing a waiting job's data, running a completed job again, starting every delayed job,
pausing and resuming every queue, deleting an undeclared queue. Each is audited; data the
queue's payload model or the access rules refuse is answered in German on the form, and
nothing is added or changed."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select
from tests.support.http import logged_in
from tests.support.job_explorer import post_form, probe_queue
from tests.support.jobs import job_state
from tests.support.personas import People, add_dokument, park_kanzlei_job

from ailawyer.db.models import AuditLog, User
from ailawyer.dokumente.upload import dokument_job_id
from ailawyer.jobs.bullmq_adapter import (
    manual_retries,
    read_counts,
    read_job_fields,
    scan_queue_names,
    update_waiting_data,
)
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

PARKED_MS = 3_600_000
CONFIRM_COUNT = re.compile(r'data-confirm-count="(\d+)"')
UP_TO = re.compile(r'name="bis" value="(\d+)"')


async def audit_rows(services: Services) -> list[tuple[str, str, int | None, dict[str, Any]]]:
    async with services.db.session() as db:
        rows = (await db.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    return [(r.action, r.target_id or "", r.kanzlei_id, r.details or {}) for r in rows]


def redirected(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """Where a 303 goes and its query (the notice)."""
    assert response.status_code == 303, response.text[:2000]
    location = urlsplit(response.headers["location"])
    return location.path, {k: v[0] for k, v in parse_qs(location.query).items()}


async def job_count(services: Services, queue: str) -> int:
    return sum((await read_counts(services.jobs.queue(queue))).counts.values())


async def parked_test_job(services: Services, **fields: Any) -> str:
    job = await services.jobs.enqueue(
        "test", AdminTestPayload(duration_ms=0, steps=1, **fields), delay_ms=PARKED_MS
    )
    return str(job.id)


async def test_adding_a_job_checks_its_data_answers_in_german_and_is_audited(
    operator_client: httpx.AsyncClient, services: Services, operator: User
) -> None:
    form = await operator_client.get("/admin/jobs/queues/test/add")
    assert form.status_code == 200
    assert 'data-payload-field="durationMs"' in form.text
    assert "Dauer in Millisekunden" in form.text

    not_json = await post_form(operator_client, "/admin/jobs/queues/test/add", {"daten": "{steps"})
    refused = await post_form(
        operator_client,
        "/admin/jobs/queues/test/add",
        {"daten": json.dumps({"steps": 0, "farbe": "rot", "failure": "nie"})},
    )
    assert not_json.status_code == 422
    assert "Die Daten sind kein gültiges JSON (Zeile 1, Spalte 2)." in not_json.text
    assert refused.status_code == 422
    for sentence in (
        "„Schritte“ (steps) muss mindestens 1 sein.",
        "Das Feld „farbe“ gibt es für diese Warteschlange nicht.",
        "„Ergebnis“ (failure) muss einer dieser Werte sein: &#34;never&#34;",
    ):
        assert sentence in refused.text
    # What was typed stays in the form.
    assert "farbe" in refused.text
    of_a_kanzlei = await post_form(
        operator_client, "/admin/jobs/queues/test/add", {"daten": '{"kanzleiId": 1}'}
    )
    assert of_a_kanzlei.status_code == 422
    assert "Vorgänge dieser Warteschlange gehören keiner Kanzlei" in of_a_kanzlei.text
    assert await job_count(services, "test") == 0

    added = await post_form(
        operator_client,
        "/admin/jobs/queues/test/add",
        {"daten": json.dumps({"durationMs": 0, "steps": 2}), "verzoegerung": "3600"},
    )
    path, query = redirected(added)
    job_id = path.rsplit("/", 1)[1]
    assert query == {"hinweis": "added"}
    job = await services.jobs.get_job("test", job_id)
    assert job is not None and job.data == {"durationMs": 0, "steps": 2, "failure": "never"}
    assert await job.getState() == "delayed"
    assert (
        "Der Vorgang wurde hinzugefügt."
        in (await operator_client.get(f"{path}?hinweis=added")).text
    )
    assert await audit_rows(services) == [
        (
            "job.add",
            f"test/{job_id}",
            None,
            {
                "queue": "test",
                "jobId": job_id,
                "data": {"durationMs": 0, "steps": 2, "failure": "never"},
                "delayMs": PARKED_MS,
            },
        )
    ]


async def test_a_queue_without_a_payload_model_takes_no_added_jobs(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, waiting=1) as probe:
        page = await operator_client.get(f"/admin/jobs/queues/{probe.name}/add")
        assert page.status_code == 404
        assert (
            "Vorgang hinzufügen"
            not in (await operator_client.get(f"/admin/jobs/queues/{probe.name}")).text
        )


async def test_duplicating_a_job_adds_a_copy_with_its_data(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    source = await parked_test_job(services, failure="always")
    page = await operator_client.get(f"/admin/jobs/queues/test/jobs/{source}")
    assert f'href="/admin/jobs/queues/test/add?vorlage={source}"' in page.text

    form = await operator_client.get("/admin/jobs/queues/test/add", params={"vorlage": source})
    assert form.status_code == 200
    assert f'action="/admin/jobs/queues/test/add?vorlage={source}"' in form.text
    assert "&#34;failure&#34;: &#34;always&#34;" in form.text

    copied = await post_form(
        operator_client,
        f"/admin/jobs/queues/test/add?vorlage={source}",
        {"daten": json.dumps({"durationMs": 0, "steps": 1, "failure": "always"})},
    )
    path, _ = redirected(copied)
    copy = path.rsplit("/", 1)[1]
    assert copy != source
    job = await services.jobs.get_job("test", copy)
    assert job is not None and job.data["failure"] == "always"
    # Not the source's delay: the copy runs now. Its options, not `job.delay`: a worker of the
    # suite may already have run it and put it back with its backoff.
    assert job.opts.get("delay", 0) == 0
    [(action, target, kanzlei, details)] = await audit_rows(services)
    assert (action, target, kanzlei, details["sourceJobId"]) == (
        "job.duplicate",
        f"test/{copy}",
        None,
        source,
    )


async def test_a_kanzlei_admin_adds_only_jobs_of_its_own_kanzlei_naming_what_it_may_see(
    live_server: str, services: Services, people: People
) -> None:
    fresh = await add_dokument(services, people.akte_a, people.sachbearbeiter_a)
    data = {
        "dokumentId": fresh.id,
        "akteId": people.akte_a.id,
        # Whatever it says, the job is the ADMIN's own Kanzlei's.
        "kanzleiId": people.kanzlei_b.id,
        "userId": people.sachbearbeiter_a.id,
    }
    async with logged_in(live_server, people.admin_b) as admin_b:
        seen_elsewhere = await post_form(
            admin_b,
            "/admin/jobs/queues/dokumente/add",
            {"daten": json.dumps(data), "verzoegerung": "3600"},
        )
        system = await post_form(
            admin_b, "/admin/jobs/queues/system/add", {"daten": '{"task": "retention-cleanup"}'}
        )
    assert seen_elsewhere.status_code == 422
    for field, value in (("akteId", people.akte_a.id), ("dokumentId", fresh.id)):
        assert f"({field}): {value} gibt es nicht oder nicht hier." in seen_elsewhere.text
    assert f"(userId): {people.sachbearbeiter_a.id} gibt es nicht" in seen_elsewhere.text
    assert system.status_code == 403
    assert await services.jobs.get_job("dokumente", dokument_job_id(fresh.id)) is None

    async with logged_in(live_server, people.admin_a) as admin_a:
        form = await admin_a.get("/admin/jobs/queues/dokumente/add")
        added = await post_form(
            admin_a,
            "/admin/jobs/queues/dokumente/add",
            {"daten": json.dumps(data), "verzoegerung": "3600"},
        )
        taken = await post_form(
            admin_a,
            "/admin/jobs/queues/dokumente/add",
            {"daten": json.dumps(data), "verzoegerung": "3600"},
        )
    assert "data-forced-kanzlei" in form.text
    path, _ = redirected(added)
    assert path == f"/admin/jobs/queues/dokumente/jobs/{dokument_job_id(fresh.id)}"
    job = await services.jobs.get_job("dokumente", dokument_job_id(fresh.id))
    assert job is not None and job.data["kanzleiId"] == people.kanzlei_a.id
    # One job per Dokument: a second add is refused, not silently ignored by bullmq.
    assert taken.status_code == 422
    assert f"Den Vorgang {dokument_job_id(fresh.id)} gibt es schon" in taken.text
    [(action, _target, kanzlei, _details)] = await audit_rows(services)
    assert (action, kanzlei) == ("job.add", people.kanzlei_a.id)


async def test_another_kanzleis_job_cannot_be_duplicated_or_edited(
    live_server: str, services: Services, people: People
) -> None:
    job_of_a = await park_kanzlei_job(services, people)
    async with logged_in(live_server, people.admin_b) as admin_b:
        answers = [
            (await admin_b.get(url)).status_code
            for url in (
                f"/admin/jobs/queues/dokumente/add?vorlage={job_of_a}",
                f"/admin/jobs/queues/dokumente/jobs/{job_of_a}/edit",
            )
        ]
        edit = await post_form(
            admin_b, f"/admin/jobs/queues/dokumente/jobs/{job_of_a}/edit", {"daten": "{}"}
        )
    assert answers == [404, 404]
    assert edit.status_code == 404


async def test_changing_a_delayed_jobs_data_checks_it_like_a_new_job_and_is_audited(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    job_id = await parked_test_job(services)
    url = f"/admin/jobs/queues/test/jobs/{job_id}/edit"
    page = await operator_client.get(f"/admin/jobs/queues/test/jobs/{job_id}")
    assert f'href="{url}"' in page.text
    form = await operator_client.get(url)
    assert form.status_code == 200 and "&#34;steps&#34;: 1" in form.text

    refused = await post_form(operator_client, url, {"daten": '{"steps": "viele"}'})
    assert refused.status_code == 422
    assert "„Schritte“ (steps) muss eine ganze Zahl sein." in refused.text
    before = {"durationMs": 0, "steps": 1, "failure": "never"}
    assert (await services.jobs.get_job("test", job_id)).data == before  # type: ignore[union-attr]

    changed = await post_form(operator_client, url, {"daten": '{"durationMs": 5, "steps": 3}'})
    assert redirected(changed) == (
        f"/admin/jobs/queues/test/jobs/{job_id}",
        {"hinweis": "data-changed"},
    )
    job = await services.jobs.get_job("test", job_id)
    after = {"durationMs": 5, "steps": 3, "failure": "never"}
    assert job is not None and job.data == after
    assert await job.getState() == "delayed"
    assert await audit_rows(services) == [
        (
            "job.change_data",
            f"test/{job_id}",
            None,
            {"queue": "test", "jobId": job_id, "before": before, "after": after},
        )
    ]


async def test_a_kanzlei_admin_edits_its_jobs_data_only_within_its_kanzlei(
    live_server: str, services: Services, people: People
) -> None:
    job_id = await park_kanzlei_job(services, people)
    job = await services.jobs.get_job("dokumente", job_id)
    assert job is not None
    url = f"/admin/jobs/queues/dokumente/jobs/{job_id}/edit"
    other = await add_dokument(services, people.akte_a, people.sachbearbeiter_a)
    async with logged_in(live_server, people.admin_a) as admin_a:
        to_b = await post_form(
            admin_a, url, {"daten": json.dumps({**job.data, "userId": people.admin_b.id})}
        )
        renumbered = await post_form(
            admin_a, url, {"daten": json.dumps({**job.data, "dokumentId": other.id})}
        )
        moved = await post_form(
            admin_a,
            url,
            {
                "daten": json.dumps(
                    {**job.data, "kanzleiId": people.kanzlei_b.id, "userId": people.admin_a.id}
                )
            },
        )
    assert to_b.status_code == 422
    assert f"(userId): {people.admin_b.id} gibt es nicht oder nicht hier." in to_b.text
    assert renumbered.status_code == 422
    assert (
        f"Diese Daten gehören zum Vorgang dokument-{other.id}, nicht zu {job_id}" in renumbered.text
    )
    redirected(moved)
    changed = await services.jobs.get_job("dokumente", job_id)
    assert changed is not None
    assert changed.data == {
        **job.data,
        "kanzleiId": people.kanzlei_a.id,
        "userId": people.admin_a.id,
    }
    [(action, _target, kanzlei, _details)] = await audit_rows(services)
    assert (action, kanzlei) == ("job.change_data", people.kanzlei_a.id)


async def test_a_job_that_started_keeps_its_data(services: Services) -> None:
    # Checked and written in one step in Redis: a worker taking the job between a check and
    # the write would otherwise run it with data nobody saw.
    async with probe_queue(services, active=1, delayed=1) as probe:
        (active,) = probe.ids["active"]
        (delayed,) = probe.ids["delayed"]
        queue = services.jobs.queue(probe.name)
        assert not await update_waiting_data(services.jobs.redis, queue, active, {"n": 99})
        assert (await read_job_fields(queue, active))["data"] == '{"outcome":"hold","n":0}'
        assert await update_waiting_data(services.jobs.redis, queue, delayed, {"n": 99})
        assert (await read_job_fields(queue, delayed))["data"] == '{"n":99}'


async def test_running_a_completed_job_again_starts_a_fresh_series_and_is_audited(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, completed=1, failed=1) as probe:
        (completed,) = probe.ids["completed"]
        (failed,) = probe.ids["failed"]
        page = await operator_client.get(f"/admin/jobs/queues/{probe.name}/jobs/{completed}")
        assert f'action="/admin/jobs/queues/{probe.name}/jobs/{completed}/rerun"' in page.text

        rerun = await post_form(
            operator_client, f"/admin/jobs/queues/{probe.name}/jobs/{completed}/rerun"
        )
        refused = await post_form(
            operator_client, f"/admin/jobs/queues/{probe.name}/jobs/{failed}/rerun"
        )

        assert redirected(rerun)[1] == {"hinweis": "rerun"}
        assert await job_state(services, probe.name, completed) == "waiting"
        fields = await read_job_fields(services.jobs.queue(probe.name), completed)
        assert manual_retries(fields) == 1
        assert redirected(refused)[1] == {"hinweis": "not-completed"}
        assert await job_state(services, probe.name, failed) == "failed"
    assert [(a, t) for a, t, _k, _d in await audit_rows(services)] == [
        ("job.rerun", f"{probe.name}/{completed}")
    ]


async def test_starting_every_delayed_job_asks_first_and_says_how_many(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, delayed=3, waiting=1) as probe:
        url = f"/admin/jobs/queues/{probe.name}/promote-all"
        queue_page = await operator_client.get(f"/admin/jobs/queues/{probe.name}?status=delayed")
        assert f'href="{url}"' in queue_page.text
        question = await operator_client.get(url)
        assert CONFIRM_COUNT.findall(question.text) == ["3"]
        up_to = UP_TO.search(question.text).group(1)  # type: ignore[union-attr]

        unconfirmed = await post_form(operator_client, url)
        assert unconfirmed.status_code == 400
        assert (await read_counts(services.jobs.queue(probe.name))).counts["delayed"] == 3

        done = await post_form(operator_client, url, {"bis": up_to, "anzahl": "3"})
        assert redirected(done)[1] == {
            "status": "delayed",
            "hinweis": "promoted-all",
            "anzahl": "3",
        }
        counts = (await read_counts(services.jobs.queue(probe.name))).counts
        assert (counts["delayed"], counts["waiting"]) == (0, 4)
    assert await audit_rows(services) == [
        ("queue.promote_all", probe.name, None, {"confirmedCount": 3, "count": 3})
    ]


async def test_pausing_and_resuming_every_queue_asks_first_and_is_audited(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, waiting=1) as probe:
        names = await services.jobs.known(fresh=True)
        try:
            question = await operator_client.get("/admin/jobs/pause-all")
            assert CONFIRM_COUNT.findall(question.text) == [str(len(names))]
            up_to = UP_TO.search(question.text).group(1)  # type: ignore[union-attr]
            paused = await post_form(operator_client, "/admin/jobs/pause-all", {"bis": up_to})
            assert redirected(paused) == ("/admin/jobs", {"hinweis": "paused-all"})
            assert all([await services.jobs.queue(n).isPaused() for n in names])
            assert probe.name in names

            resumed = await post_form(operator_client, "/admin/jobs/resume-all", {"bis": up_to})
            assert redirected(resumed) == ("/admin/jobs", {"hinweis": "resumed-all"})
            assert not any([await services.jobs.queue(n).isPaused() for n in names])
        finally:
            for name in names:
                await services.jobs.queue(name).resume()
    assert [(a, t, k, d) for a, t, k, d in await audit_rows(services)] == [
        ("queue.pause_all", "*", None, {"queues": names}),
        ("queue.resume_all", "*", None, {"queues": names}),
    ]


async def test_an_undeclared_queue_is_deleted_once_its_name_is_typed(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    prefix = services.jobs.prefix
    async with probe_queue(services, waiting=2, completed=1) as probe:
        url = f"/admin/jobs/queues/{probe.name}/obliterate"
        question = await operator_client.get(url)
        assert CONFIRM_COUNT.findall(question.text) == ["3"]

        mistyped = await post_form(operator_client, url, {"name": probe.name + "x"})
        assert mistyped.status_code == 422
        assert "Der eingegebene Name stimmt nicht" in mistyped.text
        assert probe.name in await scan_queue_names(services.redis, prefix)

        deleted = await post_form(operator_client, url, {"name": probe.name})
        assert redirected(deleted) == ("/admin/jobs", {"hinweis": "obliterated"})
        assert probe.name not in await scan_queue_names(services.redis, prefix)
        assert not [key async for key in services.redis.scan_iter(f"{prefix}:{probe.name}:*")]
    assert await audit_rows(services) == [("queue.obliterate", probe.name, None, {"jobs": 3})]


async def test_a_declared_queue_or_one_with_a_running_job_is_not_deleted(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    await parked_test_job(services)
    declared = await operator_client.get("/admin/jobs/queues/test/obliterate")
    assert "data-obliterate-refused" in declared.text and "data-confirm-submit" not in declared.text
    refused = await post_form(
        operator_client, "/admin/jobs/queues/test/obliterate", {"name": "test"}
    )
    assert redirected(refused)[1] == {"hinweis": "declared"}
    assert await job_count(services, "test") == 1

    async with probe_queue(services, active=1) as probe:
        url = f"/admin/jobs/queues/{probe.name}/obliterate"
        busy = await post_form(operator_client, url, {"name": probe.name})
        assert redirected(busy)[1] == {"hinweis": "has-active"}
        queue = services.jobs.queue(probe.name)
        assert (await read_counts(queue)).counts["active"] == 1
        # bullmq paused it before refusing; it runs on as it did.
        assert not await queue.isPaused()
    assert await audit_rows(services) == []
