"""Job ids in URLs: only the forms our queues issue reach bullmq; bullmq's own key names and
anything else answer 404 (they answered 500), and malformed explorer cursors start over."""

from __future__ import annotations

import httpx
import pytest
from tests.support.factories import Factory
from tests.support.http import csrf_token, logged_in
from tests.support.job_explorer import post_form
from tests.support.personas import People, build_admin, park_kanzlei_job

from ailawyer.jobs.payloads import AdminTestPayload, SystemTaskPayload
from ailawyer.services import Services

# Names inside bullmq's key space of a queue (`<prefix>:<queue>:<name>`), a job's log list,
# other digits than ASCII ones, and shapes no queue of ours issues.
BAD_IDS = [
    "events",
    "meta",
    "id",
    "completed",
    "failed",
    "wait",
    "paused",
    "delayed",
    "active",
    "prioritized",
    "stalled",
    "limiter",
    "marker",
    "repeat",
    "de",
    "pc",
    "dokument-1:logs",
    "dokument-²",
    "dokument-١",
    "1:2",
    "dokument-1 ",
    "x" * 300,
]


async def answers_for(client: httpx.AsyncClient, queue: str, job_id: str) -> list[int]:
    """The status of every route that takes a job id, for `job_id` in `queue`."""
    path = f"/admin/jobs/queues/{queue}/jobs/{job_id}"
    token = await csrf_token(client, "/admin/jobs")
    return [
        (await client.get(path)).status_code,
        (await client.get(f"{path}/detail")).status_code,
        (
            await client.get(
                f"/admin/jobs/queues/{queue}/confirm", params={"aktion": "remove", "job": job_id}
            )
        ).status_code,
        *[
            (await post_form(client, f"{path}/{action}")).status_code
            for action in ("retry", "remove", "promote")
        ],
        (
            await client.post(f"/api/jobs/{queue}/{job_id}/retry", headers={"x-csrftoken": token})
        ).status_code,
    ]


@pytest.mark.parametrize("queue", ["dokumente", "test", "system"])
async def test_every_job_route_answers_404_for_ids_our_queues_never_issue(
    live_server: str, services: Services, people: People, queue: str
) -> None:
    # The queues' own keys exist: bullmq would meet a stream, a hash, a counter, a log list.
    dokument_job = await park_kanzlei_job(services, people)
    test_job = await services.jobs.enqueue("test", AdminTestPayload(), delay_ms=3_600_000)
    await test_job.log("Zeile")
    await services.jobs.enqueue("system", SystemTaskPayload(task="retention-cleanup"))
    bad_ids = [*BAD_IDS, f"{dokument_job}:logs", f"{test_job.id}:logs"]
    assert await services.redis.exists(services.jobs.queue(queue).toKey("events"))

    async with logged_in(live_server, people.operator) as client:
        found = {job_id: await answers_for(client, queue, job_id) for job_id in bad_ids}
        own = await client.get(f"/admin/jobs/queues/dokumente/jobs/{dokument_job}")

    assert found == {job_id: [404] * 7 for job_id in bad_ids}
    assert own.status_code == 200


async def test_a_malformed_search_cursor_starts_the_search_over(
    live_server: str, services: Services, people: People
) -> None:
    job = await park_kanzlei_job(services, people)

    async with logged_in(live_server, people.operator) as client:
        answers = [
            await client.get("/admin/jobs/queues/dokumente", params={"q": "x", "weiter": cursor})
            for cursor in ("failed:²", "failed:١٢", "failed:-1", "nix:3", "failed:", ":")
        ]
        found = await client.get(
            "/admin/jobs/queues/dokumente", params={"q": "pdf", "weiter": "delayed:²"}
        )
        odd_numbers = [
            (await client.get("/admin/jobs/queues/dokumente", params=params)).status_code
            for params in ({"seite": "²"}, {"anzahl": "²"}, {"seite": "0"})
        ]

    assert [answer.status_code for answer in answers] == [200] * 6
    assert found.status_code == 200 and f'data-job-id="{job}"' in found.text
    assert all(400 <= status < 500 for status in odd_numbers), odd_numbers


async def test_a_kanzlei_admin_meets_the_same_404_for_bad_ids(
    live_server: str, factory: Factory, services: Services
) -> None:
    admin = await build_admin(factory)
    async with logged_in(live_server, admin) as client:
        found = {job_id: await answers_for(client, "dokumente", job_id) for job_id in BAD_IDS[:3]}

    assert found == {job_id: [404] * 7 for job_id in BAD_IDS[:3]}
