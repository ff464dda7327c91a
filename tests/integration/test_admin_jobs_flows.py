"""A flow's jobs in the explorer follow the Kanzlei rules: a Kanzlei's ADMIN sees its own
parent and children with their links, never another Kanzlei's nor the installation's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.http import logged_in
from tests.support.job_explorer import ROW
from tests.support.jobs import wait_until
from tests.support.node_bullmq import install, node_bullmq
from tests.support.personas import People

from ailawyer.services import Services

HOUR_MS = 3_600_000
PARENT = "dokument-900001"
OWN_CHILD = "dokument-900002"
OTHER_CHILD = "dokument-900003"


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> Iterator[None]:
    install()
    yield


def dokument_job(job_id: str, kanzlei_id: int, **options: int) -> dict[str, object]:
    """A `dokumente` job of a flow (its data as ours look; ids of that queue's form)."""
    return {
        "name": "pdf-verarbeitung",
        "queueName": "dokumente",
        "data": {"kanzleiId": kanzlei_id, "dokumentId": int(job_id.split("-")[1])},
        "opts": {"jobId": job_id, **options},
    }


async def test_each_kanzlei_sees_only_its_own_jobs_of_a_flow(
    people: People, services: Services, live_server: str
) -> None:
    a, b = people.kanzlei_a.id, people.kanzlei_b.id
    # The children wait an hour, so no worker of the run touches the flow meanwhile.
    await node_bullmq(
        "flow",
        url=services.settings.redis_url,
        prefix=services.jobs.prefix,
        flow={
            **dokument_job(PARENT, a),
            "children": [
                dokument_job(OWN_CHILD, a, delay=HOUR_MS),
                dokument_job(OTHER_CHILD, b, delay=HOUR_MS),
                {"name": "wartung", "queueName": "system", "data": {}, "opts": {"delay": HOUR_MS}},
            ],
        },
    )
    base = "/admin/jobs/queues/dokumente"

    async with logged_in(live_server, people.admin_a) as client:

        async def counted() -> dict[str, Any] | None:
            queue = (await client.get("/admin/jobs/counts")).json()["queues"]["dokumente"]
            return queue if queue["counts"]["waiting-children"] else None

        # A Kanzlei's counts come from a census each app process reuses for 10 s.
        counts = await wait_until(counted, within=15, interval=0.5, what="the parent counted")
        tab = await client.get(f"{base}?status=waiting-children")
        parent_a = await client.get(f"{base}/jobs/{PARENT}")
        child_a = await client.get(f"{base}/jobs/{OWN_CHILD}")
    async with logged_in(live_server, people.admin_b) as client:
        parent_b = await client.get(f"{base}/jobs/{PARENT}")
        child_b = await client.get(f"{base}/jobs/{OTHER_CHILD}")
    async with logged_in(live_server, people.operator) as client:
        parent_operator = await client.get(f"{base}/jobs/{PARENT}")

    assert counts["counts"]["waiting-children"] == 1
    assert ROW.findall(tab.text) == [(PARENT, "waiting-children")]
    # A's ADMIN: its parent with its own child, nothing of B's or the installation's.
    assert parent_a.status_code == 200
    assert f'href="{base}/jobs/{OWN_CHILD}"' in parent_a.text
    assert OTHER_CHILD not in parent_a.text and "wartung" not in parent_a.text
    assert "1 Unterauftrag" in parent_a.text
    assert f'href="{base}/jobs/{PARENT}"' in child_a.text
    # B's ADMIN: A's parent does not exist for it, nor on its own child's page.
    assert parent_b.status_code == 404
    assert child_b.status_code == 200
    assert PARENT not in child_b.text and "Übergeordneter Vorgang" not in child_b.text
    # The operator: every child, the system's without a link (its id is not of that queue's
    # form, so it has no page here).
    assert parent_operator.text.count("data-flow-child") == 3
    assert "3 Unteraufträge" in parent_operator.text
    assert OTHER_CHILD in parent_operator.text and 'in <span class="mono">system</span>' in (
        parent_operator.text
    )
