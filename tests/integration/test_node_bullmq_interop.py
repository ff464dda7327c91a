"""Node's BullMQ (what Bull Board reads with) and ours on one Redis: a flow Node adds is in
the explorer with its waiting parent, Node finds our workers, and Node reads the metrics
our workers keep."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from tests.support.job_explorer import ROW, counts_on, probe_name, probe_worker
from tests.support.jobs import isolated, job_services, running_pool, wait_for_state, wait_until
from tests.support.node_bullmq import install, node_bullmq

from ailawyer.config import Settings
from ailawyer.jobs.bullmq_adapter import node_worker_connection_name
from ailawyer.jobs.catalog import QUEUES
from ailawyer.jobs.metrics import HISTORY_MINUTES
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

CHILD_LINK = re.compile(r'<li data-flow-child><span class="flow-job" data-flow-job="([^"]+)">')


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> Iterator[None]:
    install()
    yield


async def add_flow(services: Services, parent_queue: str, child_queue: str) -> dict[str, Any]:
    """A parent with two children, added by Node's FlowProducer; the ids it made."""
    return await node_bullmq(
        "flow",
        url=services.settings.redis_url,
        prefix=services.jobs.prefix,
        flow={
            "name": "zusammenfassen",
            "queueName": parent_queue,
            "data": {"teil": "eltern"},
            "children": [
                {"name": "seite", "queueName": child_queue, "data": {"n": n}} for n in (1, 2)
            ],
        },
    )


async def test_a_flow_added_by_node_shows_its_parent_waiting_for_its_children(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    parent_queue, child_queue = probe_name(), probe_name()
    flow = await add_flow(services, parent_queue, child_queue)
    parent_id = flow["id"]
    child_ids = sorted(child["id"] for child in flow["children"])

    overview = await operator_client.get("/admin/jobs")
    counts = (await operator_client.get("/admin/jobs/counts")).json()["queues"]
    tab = await operator_client.get(f"/admin/jobs/queues/{parent_queue}?status=waiting-children")
    found = await operator_client.get(f"/admin/jobs/queues/{parent_queue}?q={parent_id}")
    parent_page = await operator_client.get(f"/admin/jobs/queues/{parent_queue}/jobs/{parent_id}")
    child_page = await operator_client.get(f"/admin/jobs/queues/{child_queue}/jobs/{child_ids[0]}")

    assert counts_on(overview.text, parent_queue)["waiting-children"] == 1
    assert counts_on(overview.text, child_queue)["waiting"] == 2
    assert counts[parent_queue]["counts"]["waiting-children"] == 1
    assert "Wartet auf Unteraufträge" in tab.text
    assert ROW.findall(tab.text) == [(parent_id, "waiting-children")]
    assert ROW.findall(found.text) == [(parent_id, "waiting-children")]
    assert "Gefunden über die Vorgangs-ID." in found.text
    # The parent's page: its state, and both children linked with theirs.
    assert parent_page.status_code == 200
    detail = parent_page.text
    assert 'data-job-state="waiting-children"' in detail and "Unbekannt" not in detail
    assert sorted(CHILD_LINK.findall(detail)) == child_ids
    for child_id in child_ids:
        assert f'href="/admin/jobs/queues/{child_queue}/jobs/{child_id}"' in detail
    assert detail.count('data-job-state="waiting"') == 2
    assert "2 Unteraufträge" in detail
    # A child's page links its parent.
    parent_link = f'href="/admin/jobs/queues/{parent_queue}/jobs/{parent_id}"'
    assert "Übergeordneter Vorgang" in child_page.text and parent_link in child_page.text

    # Our bullmq runs the children; the parent then waits to run itself.
    async with probe_worker(services, child_queue):
        await wait_for_state(services, parent_queue, parent_id, "waiting", within=10)
    after = await operator_client.get(f"/admin/jobs/queues/{parent_queue}/jobs/{parent_id}")
    assert 'data-job-state="waiting"' in after.text
    assert sorted(CHILD_LINK.findall(after.text)) == child_ids
    assert after.text.count('data-job-state="completed"') == 2


@pytest.fixture
async def one_attempt(settings: Settings, services: Services) -> AsyncIterator[Services]:
    """Services on a key prefix of their own whose jobs get one attempt (a failure is final
    at once)."""
    async with job_services(isolated(settings, job_attempts=1)) as own:
        yield own


async def test_node_finds_each_of_our_workers_once_per_queue_while_it_runs(
    one_attempt: Services,
) -> None:
    services = one_attempt
    prefix = services.jobs.prefix

    async def seen_by_node() -> dict[str, list[str]]:
        workers = await node_bullmq(
            "workers", url=services.settings.redis_url, prefix=prefix, queues=list(QUEUES)
        )
        # Node reports each client's name as "rawname" ("name" is the queue's).
        return {queue: [client["rawname"] for client in found] for queue, found in workers.items()}

    async def every_queue_seen() -> dict[str, list[str]] | None:
        seen = await seen_by_node()
        return seen if all(seen.values()) else None

    async with running_pool(services, "interop-1"):
        seen = await wait_until(every_queue_seen, within=10, what="Node to see our workers")
        python_seen = await services.jobs.queue("test").get_workers()

    assert seen == {
        queue: [node_worker_connection_name(prefix, queue, "interop-1")] for queue in QUEUES
    }
    # Python's bullmq still finds the worker by the names it gives (its command connections).
    assert python_seen and all(
        client["rawname"] == f"{prefix}:test:w:interop-1" for client in python_seen
    )

    async def gone() -> bool:
        return not any((await seen_by_node()).values())

    await wait_until(gone, within=10, what="Node to see the stopped workers go")


async def test_node_reads_the_metrics_our_workers_keep_for_a_week(one_attempt: Services) -> None:
    services = one_attempt
    metrics_key = services.jobs.queue("test").toKey("metrics:completed")
    async with running_pool(services):
        first = await services.jobs.enqueue("test", AdminTestPayload(duration_ms=0, steps=1))
        failed = await services.jobs.enqueue(
            "test", AdminTestPayload(duration_ms=0, steps=1, failure="always")
        )
        await wait_for_state(services, "test", first.id or "", "completed", within=10)
        await wait_for_state(services, "test", failed.id or "", "failed", within=10)
        # bullmq adds a point per minute when a later job finishes in a later minute; a week
        # and a minute ago for the first job makes the next one write the whole week.
        week_ago = round(time.time() * 1000) - (HISTORY_MINUTES + 1) * 60_000
        await services.redis.hset(metrics_key, "prevTS", week_ago)
        second = await services.jobs.enqueue("test", AdminTestPayload(duration_ms=0, steps=1))
        await wait_for_state(services, "test", second.id or "", "completed", within=10)

    metrics = await node_bullmq(
        "metrics",
        url=services.settings.redis_url,
        prefix=services.jobs.prefix,
        queue="test",
        types=["completed", "failed"],
    )
    completed, failures = metrics["completed"], metrics["failed"]

    assert completed["meta"]["count"] == 2
    # One point per minute of the week, newest first: the first job is the oldest.
    assert len(completed["data"]) == HISTORY_MINUTES == 7 * 24 * 60
    assert completed["data"][-1] == 1 and sum(completed["data"]) == 1
    assert failures["meta"]["count"] == 1
