"""A queue's job schedulers in the explorer: listed with interval or pattern, next and last run
and template; changed and removed by the operator (audited); ours marked "vom System" and
back as soon as a worker starts."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from bullmq import Job, Worker
from sqlalchemy import select
from tests.support.http import logged_in
from tests.support.job_explorer import post_form, probe_name
from tests.support.jobs import wait_until
from tests.support.personas import People

from ailawyer.app.web.admin.jobs.route_support import job_url
from ailawyer.db.models import AuditLog
from ailawyer.jobs.bullmq_adapter import read_counts, read_scheduler, scheduler_run_id
from ailawyer.redis_client import create_redis
from ailawyer.services import Services
from ailawyer.worker import maintenance
from ailawyer.worker.maintenance import SCHEDULES, is_scheduled

HOUR_MS = 3_600_000


async def audit_rows(services: Services) -> list[tuple[str, str, str, int | None, dict[str, Any]]]:
    async with services.db.session() as db:
        rows = (await db.scalars(select(AuditLog).order_by(AuditLog.id))).all()
    return [
        (r.action, r.target_type or "", r.target_id or "", r.kanzlei_id, r.details or {})
        for r in rows
    ]


def notice_of(response: httpx.Response) -> tuple[str, str | None]:
    assert response.status_code == 303, response.text[:2000]
    location = urlsplit(response.headers["location"])
    return location.path, parse_qs(location.query).get("hinweis", [None])[0]


async def ran_once(services: Services, queue: str) -> None:
    """Let a test-owned worker take the scheduler's first run and finish it."""

    async def process(_job: Job, _token: str) -> str:
        return "fertig"

    options = {
        "connection": create_redis(services.settings.redis_url or ""),
        "prefix": services.jobs.prefix,
        "autorun": False,
    }
    worker = Worker(queue, process, options)
    task = asyncio.create_task(worker.run())

    async def completed() -> bool:
        return (await read_counts(services.jobs.queue(queue))).counts["completed"] == 1

    try:
        await wait_until(completed, within=15, what="the scheduler's first run")
    finally:
        await worker.close()
        await asyncio.gather(task, return_exceptions=True)


async def test_schedulers_show_interval_or_pattern_next_and_last_run_and_template(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    name = probe_name()
    queue = services.jobs.queue(name)
    await queue.upsertJobScheduler("stuendlich", {"every": HOUR_MS}, "sonde", {"n": 7})
    await queue.upsertJobScheduler(
        "naechtlich", {"pattern": "0 3 * * *", "tz": "Europe/Berlin"}, "sonde", {"n": 8}
    )
    # Its first run is due at once; the worker adds the next one when it starts it.
    await ran_once(services, name)
    hourly = await read_scheduler(services.redis, queue, "stuendlich")
    nightly = await read_scheduler(services.redis, queue, "naechtlich")
    assert hourly is not None and nightly is not None and hourly.next_ms and nightly.next_ms

    queue_page = await operator_client.get(f"/admin/jobs/queues/{name}")
    assert f'href="/admin/jobs/queues/{name}/schedulers"' in queue_page.text
    page = await operator_client.get(f"/admin/jobs/queues/{name}/schedulers")

    assert page.status_code == 200
    assert '<span class="badge" data-schedulers-total>2</span>' in page.text
    # Soonest next run first: the hourly one was due at once, runs again in an hour.
    assert page.text.index('data-scheduler-id="stuendlich"') < page.text.index(
        'data-scheduler-id="naechtlich"'
    )
    assert f'data-scheduler-every="{HOUR_MS}">alle 1 Std. 0 Min.' in page.text
    assert "0 3 * * *</span> <span" in page.text and "(Europe/Berlin)" in page.text
    for record in (hourly, nightly):
        assert f'href="{job_url(name, record.next_run_id or "")}"' in page.text
    first_run = scheduler_run_id("stuendlich", hourly.next_ms - HOUR_MS)
    assert f'href="{job_url(name, first_run)}"' in page.text
    assert 'data-job-state="completed"' in page.text
    assert "unbekannt" in page.text  # the nightly one has not run yet
    assert "&#34;n&#34;: 7" in page.text
    assert "data-scheduler-system" not in page.text


async def test_the_maintenance_schedulers_are_marked_as_the_systems(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    for entry in SCHEDULES:
        await maintenance.schedule(services.jobs, services.settings, entry)

    page = await operator_client.get("/admin/jobs/queues/system/schedulers")
    one = await operator_client.get("/admin/jobs/queues/system/schedulers/retention-cleanup")

    assert page.text.count("data-scheduler-system>") == len(SCHEDULES)
    every = round(services.settings.dokumente_recovery_seconds * 1000)
    assert f'data-scheduler-every="{every}"' in page.text
    assert "data-scheduler-system-note" in one.text


async def test_the_operator_changes_a_schedulers_interval_or_pattern_and_it_is_audited(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    name = probe_name()
    queue = services.jobs.queue(name)
    await queue.upsertJobScheduler("takt", {"every": HOUR_MS}, "sonde", {"n": 1}, {"attempts": 2})
    url = f"/admin/jobs/queues/{name}/schedulers/takt"
    form = await operator_client.get(url)
    assert (
        form.status_code == 200
        and 'name="sekunden" type="number" min="1" step="1" value="3600"' in form.text
    )

    for refused, sentence in (
        ({"art": "intervall", "sekunden": "0"}, "Das Intervall muss zwischen 1 Sekunde"),
        ({"art": "muster", "muster": "jede Stunde"}, "„jede Stunde“ ist kein gültiges Cron-Muster"),
        ({}, "Bitte wählen Sie Intervall oder Muster."),
    ):
        answer = await post_form(operator_client, url, refused)
        assert answer.status_code == 422 and sentence in answer.text
    record = await read_scheduler(services.redis, queue, "takt")
    assert record is not None and record.every_ms == HOUR_MS

    twice = await post_form(operator_client, url, {"art": "intervall", "sekunden": "7200"})
    assert notice_of(twice) == (f"/admin/jobs/queues/{name}/schedulers", "scheduler-changed")
    record = await read_scheduler(services.redis, queue, "takt")
    assert record is not None and record.every_ms == 2 * HOUR_MS
    # Its template stays as it was.
    assert (json.loads(record.data or "{}"), record.name) == ({"n": 1}, "sonde")
    assert json.loads(record.opts or "{}") == {"attempts": 2}

    nightly = await post_form(operator_client, url, {"art": "muster", "muster": " 0  3 * * * "})
    assert notice_of(nightly)[1] == "scheduler-changed"
    record = await read_scheduler(services.redis, queue, "takt")
    assert record is not None
    assert (record.pattern, record.tz, record.every_ms) == ("0 3 * * *", "Europe/Berlin", None)
    next_run = await services.jobs.get_job(name, record.next_run_id or "")
    assert next_run is not None and await next_run.getState() == "delayed"

    assert [
        (a, t, i, k, d["before"], d["after"]) for a, t, i, k, d in await audit_rows(services)
    ] == [
        (
            "scheduler.change",
            "scheduler",
            f"{name}/takt",
            None,
            {"every": HOUR_MS},
            {"every": 2 * HOUR_MS},
        ),
        (
            "scheduler.change",
            "scheduler",
            f"{name}/takt",
            None,
            {"every": 2 * HOUR_MS},
            {"pattern": "0 3 * * *", "tz": "Europe/Berlin"},
        ),
    ]


async def test_removing_a_scheduler_asks_first_and_takes_its_next_run_along(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    name = probe_name()
    queue = services.jobs.queue(name)
    await queue.upsertJobScheduler("weg", {"pattern": "0 3 * * *"}, "sonde", {"n": 1})
    record = await read_scheduler(services.redis, queue, "weg")
    assert record is not None
    url = f"/admin/jobs/queues/{name}/schedulers/weg/remove"

    question = await operator_client.get(url)
    assert 'data-confirm-count="1"' in question.text
    removed = await post_form(operator_client, url)

    assert notice_of(removed) == (f"/admin/jobs/queues/{name}/schedulers", "scheduler-removed")
    assert await read_scheduler(services.redis, queue, "weg") is None
    assert await services.jobs.get_job(name, record.next_run_id or "") is None
    assert (
        await operator_client.get(f"/admin/jobs/queues/{name}/schedulers/weg")
    ).status_code == 404
    assert [(a, i, d["system"]) for a, _t, i, _k, d in await audit_rows(services)] == [
        ("scheduler.remove", f"{name}/weg", False)
    ]


async def test_a_removed_maintenance_scheduler_is_back_when_a_worker_starts(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    for entry in SCHEDULES:
        await maintenance.schedule(services.jobs, services.settings, entry)
    [retention, _recovery] = SCHEDULES
    url = f"/admin/jobs/queues/system/schedulers/{retention.task}/remove"
    question = await operator_client.get(url)
    assert "vom System" in question.text

    removed = await post_form(operator_client, url)

    assert notice_of(removed)[1] == "scheduler-removed"
    assert not await is_scheduled(services.jobs, retention)
    # What a worker runs from its start (ailawyer.worker.main): first, every schedule.
    keeper = asyncio.create_task(maintenance.keep_maintenance(services))
    try:
        await wait_until(
            lambda: is_scheduled(services.jobs, retention), within=10, what="the schedule back"
        )
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    [(action, _t, _i, _k, details)] = await audit_rows(services)
    assert (action, details["system"]) == ("scheduler.remove", True)


async def test_schedulers_are_the_operators_alone(
    live_server: str, services: Services, people: People
) -> None:
    await services.jobs.queue("dokumente").upsertJobScheduler(
        "fremd", {"pattern": "0 3 1 1 *"}, "fremd", {}
    )
    async with logged_in(live_server, people.admin_a) as admin_a:
        answers = [
            (await admin_a.get(url)).status_code
            for url in (
                "/admin/jobs/queues/dokumente/schedulers",
                "/admin/jobs/queues/dokumente/schedulers/fremd",
            )
        ]
        page = await admin_a.get("/admin/jobs/queues/dokumente")
    assert answers == [403, 403]
    assert "/schedulers" not in page.text
