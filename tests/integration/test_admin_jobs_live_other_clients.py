"""Job changes made by other clients (here Node's BullMQ, as Bull Board uses it) reach the
explorer rooms through bullmq's events streams (app/realtime/queue_events.py), each Kanzlei's
room with only what it may see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.test_admin_jobs_live import about, joined
from tests.support.node_job_actions import node_job_action
from tests.support.personas import People, park_kanzlei_job
from tests.support.realtime import SocketClient

from ailawyer.config import Settings
from ailawyer.realtime import events
from ailawyer.services import Services


def removal_of(job_id: str) -> Callable[[Any], bool]:
    """An update naming `job_id` without a state: nobody but the events reader sends one."""
    return lambda update: {"id": job_id, "state": None} in update["jobs"]


async def all_arrived(services: Services, pairs: list[tuple[SocketClient, int]]) -> None:
    """Sent after the updates on the same channel: whatever came before has arrived."""
    for socket, user_id in pairs:
        await services.emitter.to_user(user_id).emit("sentinel", {})
        await socket.wait_for("sentinel")


async def test_a_kanzlei_job_removed_by_node_is_named_to_its_kanzlei_and_the_operator_only(
    live_server: str,
    services: Services,
    settings: Settings,
    people: People,
    sockets: Callable[[], SocketClient],
) -> None:
    operator, _ = await joined(live_server, sockets, people.operator)
    admin_a, _ = await joined(live_server, sockets, people.admin_a)
    admin_b, _ = await joined(live_server, sockets, people.admin_b)
    job_id = await park_kanzlei_job(services, people)
    await admin_a.wait_for(events.JOBS_UPDATE, about(job_id))

    assert await node_job_action(settings, "remove", "dokumente", job_id)

    removed = await admin_a.wait_for(events.JOBS_UPDATE, removal_of(job_id))
    await operator.wait_for(events.JOBS_UPDATE, removal_of(job_id))
    await all_arrived(services, [(admin_b, people.admin_b.id)])
    assert removed["queue"] == "dokumente" and "counts" not in removed
    assert not [u for u in admin_b.received(events.JOBS_UPDATE) if about(job_id)(u)]


async def test_a_removed_job_of_unknown_kanzlei_refreshes_each_kanzleis_page_without_its_id(
    live_server: str,
    services: Services,
    settings: Settings,
    people: People,
    sockets: Callable[[], SocketClient],
) -> None:
    # Parked before any Kanzlei page was open: the app had no reason to read its Kanzlei.
    job_id = await park_kanzlei_job(services, people)
    operator, _ = await joined(live_server, sockets, people.operator)
    admin_b, _ = await joined(live_server, sockets, people.admin_b)

    assert await node_job_action(settings, "remove", "dokumente", job_id)

    await operator.wait_for(events.JOBS_UPDATE, removal_of(job_id))
    refresh = await admin_b.wait_for(
        events.JOBS_UPDATE, lambda u: u["queue"] == "dokumente" and u["jobs"] == []
    )
    assert refresh["more"] is False and "counts" not in refresh
    assert not [u for u in admin_b.received(events.JOBS_UPDATE) if about(job_id)(u)]
