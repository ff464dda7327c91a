"""Live job updates for the explorer: only ADMIN sockets join a room of it, the operator's
with every job, a Kanzlei ADMIN's with only its Kanzlei's jobs; workers announce job changes
there (coalesced per queue and room); the same hooks keep the metrics in Redis, per queue
and per Kanzlei."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.factories import Factory
from tests.support.jobs import running_pool, wait_for_state, wait_until
from tests.support.personas import (
    People,
    build_admin,
    build_operator,
    park_kanzlei_job,
    park_system_job,
)
from tests.support.processes import AilawyerProcess
from tests.support.realtime import SocketClient, session_token
from tests.support.worker_processes import wait_for_workers

from ailawyer.db.models import User
from ailawyer.domain.roles import Role
from ailawyer.jobs.activity import MAX_JOBS_PER_UPDATE, JobActivity
from ailawyer.jobs.bullmq_adapter import STATES
from ailawyer.jobs.metrics import QueueMetrics, read_metrics
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.realtime import events
from ailawyer.realtime.emitter import Emitter
from ailawyer.realtime.rooms import job_explorer_room
from ailawyer.services import Services

QUICK = AdminTestPayload(duration_ms=0, steps=1)


async def joined(
    live_server: str, sockets: Callable[[], SocketClient], user: User
) -> tuple[SocketClient, Any]:
    socket = await sockets().connect(live_server, await session_token(live_server, user.email))
    return socket, await socket.call(events.JOBS_JOIN, None)


def updates_of(socket: SocketClient, queue: str) -> list[dict[str, Any]]:
    return [u for u in socket.received(events.JOBS_UPDATE) if u["queue"] == queue]


async def test_only_admins_join_the_explorer_room(
    live_server: str, factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    kanzlei = await factory.kanzlei()
    answers = {
        role: (await joined(live_server, sockets, await factory.user(role, kanzlei=kanzlei)))[1]
        for role in Role
    }

    assert answers.pop(Role.ADMIN) == {"ok": True}
    assert set(map(str, answers.values())) == {str({"ok": False, "error": "forbidden"})}


async def test_a_worker_announces_a_job_from_start_to_end_to_the_operators_explorer(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
    worker_process: AilawyerProcess,
) -> None:
    await wait_for_workers(services, 1)
    operator = await build_operator(factory)
    admin, _ = await joined(live_server, sockets, operator)
    # An admin who has not opened the explorer gets nothing.
    other = await sockets().connect(
        live_server, await session_token(live_server, (await build_admin(factory)).email)
    )
    job = await services.jobs.enqueue("test", AdminTestPayload(duration_ms=300, steps=3))

    def about(state: str) -> Callable[[Any], bool]:
        return lambda u: u["queue"] == "test" and {"id": job.id, "state": state} in u["jobs"]

    active = await admin.wait_for(events.JOBS_UPDATE, about("active"))
    done = await admin.wait_for(events.JOBS_UPDATE, about("completed"))

    assert active["counts"]["active"] >= 1 and active["paused"] is False
    assert done["counts"]["completed"] >= 1
    assert set(done["counts"]) == set(STATES)
    assert other.received(events.JOBS_UPDATE) == []


async def test_many_job_changes_make_few_updates(
    live_server: str,
    services: Services,
    factory: Factory,
    sockets: Callable[[], SocketClient],
    worker_process: AilawyerProcess,
) -> None:
    await wait_for_workers(services, 1)
    operator = await build_operator(factory)
    admin, _ = await joined(live_server, sockets, operator)
    started = time.monotonic()
    jobs = [await services.jobs.enqueue("test", QUICK) for _ in range(300)]
    for job in jobs:
        await wait_for_state(services, "test", job.id or "", "completed", within=30)

    async def settled() -> bool:
        updates = updates_of(admin, "test")
        return bool(updates) and updates[-1]["counts"]["completed"] >= len(jobs)

    await wait_until(settled, within=5, what="the last update")
    seconds = time.monotonic() - started
    updates = updates_of(admin, "test")

    # Three processes (this one enqueueing, the worker, and the app reading bullmq's events
    # stream) at most two updates a second each, plus each one's last flush; 300 jobs would
    # be 900 changes unthrottled.
    assert len(updates) <= 3 * (2 * seconds + 2)
    assert all(len(u["jobs"]) <= MAX_JOBS_PER_UPDATE for u in updates)
    assert any(u["more"] for u in updates)


class Recorder:
    """An emit backend that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, str]] = []

    async def emit(self, event: str, data: Any, *, to: str, namespace: str) -> None:
        self.sent.append((event, data, to))


async def test_changes_are_noted_without_waiting_and_sent_once_per_queue_and_flush(
    isolated_services: Services,
) -> None:
    recorder = Recorder()
    activity = JobActivity(
        isolated_services.jobs, Emitter(recorder), metrics_prefix="unused", interval=60
    )
    for number in range(500):
        activity.changed("test", str(number), "completed")
    activity.changed("system")

    await activity.close()

    sent = {data["queue"]: (event, data, room) for event, data, room in recorder.sent}
    assert set(sent) == {"test", "system"} and len(recorder.sent) == 2
    event, data, room = sent["test"]
    assert (event, room) == (events.JOBS_UPDATE, job_explorer_room(None))
    assert len(data["jobs"]) == MAX_JOBS_PER_UPDATE and data["more"] is True
    assert data["jobs"][0] == {"id": "0", "state": "completed"}
    assert sent["system"][1]["jobs"] == [] and sent["system"][1]["more"] is False


def about(job_id: str) -> Callable[[Any], bool]:
    return lambda update: any(job["id"] == job_id for job in update["jobs"])


async def test_a_kanzleis_admins_hear_only_of_its_jobs_and_the_operator_of_every_job(
    live_server: str, services: Services, people: People, sockets: Callable[[], SocketClient]
) -> None:
    operator, _ = await joined(live_server, sockets, people.operator)
    admin_a, _ = await joined(live_server, sockets, people.admin_a)
    admin_b, answer_b = await joined(live_server, sockets, people.admin_b)
    kanzlei_job = await park_kanzlei_job(services, people)
    system_job = await park_system_job(services)

    for_a = await admin_a.wait_for(events.JOBS_UPDATE, about(kanzlei_job))
    await operator.wait_for(events.JOBS_UPDATE, about(kanzlei_job))
    await operator.wait_for(events.JOBS_UPDATE, about(system_job))
    # Sent after those updates on the same channel: whatever B or A was sent has arrived.
    for socket, user in ((admin_b, people.admin_b), (admin_a, people.admin_a)):
        await services.emitter.to_user(user.id).emit("sentinel", {})
        await socket.wait_for("sentinel")

    assert answer_b == {"ok": True}
    assert admin_b.received(events.JOBS_UPDATE) == []
    assert not [u for u in admin_a.received(events.JOBS_UPDATE) if about(system_job)(u)]
    # The queue's counts are every Kanzlei's: A's page fetches its own instead.
    assert "counts" not in for_a and for_a["paused"] is False
    assert for_a["jobs"] == [{"id": kanzlei_job, "state": "delayed"}]


async def test_the_worker_keeps_per_minute_counts_and_wait_and_run_times(
    isolated_services: Services,
) -> None:
    services = isolated_services
    async with running_pool(services):
        good = [
            await services.jobs.enqueue("test", AdminTestPayload(duration_ms=50, steps=1))
            for _ in range(3)
        ]
        bad = await services.jobs.enqueue("test", AdminTestPayload(duration_ms=0, failure="always"))
        for job in good:
            await wait_for_state(services, "test", job.id or "", "completed", within=10)
        await wait_for_state(services, "test", bad.id or "", "failed", within=10)

        async def flushed() -> QueueMetrics | None:
            prefix = services.settings.redis_key_prefix
            metrics = (await read_metrics(services.redis, prefix, ["test"], time.time()))["test"]
            # Every attempt (3 + 4 of the failing job) is in, or the next flush is yet to come.
            return metrics if metrics.run is not None and metrics.run.count >= 3 + 4 else None

        metrics = await wait_until(flushed, within=5, what="the flush of the metrics")

    assert (metrics.completed_total, metrics.failed_total) == (3, 1)
    assert len(metrics.completed) == 60 and sum(metrics.completed[-2:]) == 3
    assert metrics.run is not None and metrics.wait is not None
    # Every attempt ran (3 + 4 attempts of the failing job); only first attempts waited.
    assert (metrics.run.count, metrics.wait.count) == (3 + 4, 4)
    # The three good jobs sleep 50 ms; how much longer a run takes depends on the machine.
    assert metrics.run.p95 >= 50


async def test_a_kanzleis_jobs_are_counted_for_the_queue_and_for_the_kanzlei(
    isolated_services: Services,
) -> None:
    services = isolated_services
    prefix = services.settings.redis_key_prefix
    job = await services.jobs.enqueue("test", QUICK)
    job.processedOn = round(time.time() * 1000) - 40
    activity = JobActivity(services.jobs, Emitter(Recorder()), metrics_prefix=prefix)

    activity.finished("dokumente", job, "completed", kanzlei_id=7)
    activity.finished("dokumente", job, "failed")
    await activity.close()

    now = time.time()
    whole = (await read_metrics(services.redis, prefix, ["dokumente"], now))["dokumente"]
    seven = (await read_metrics(services.redis, prefix, ["dokumente"], now, 7))["dokumente"]
    eight = (await read_metrics(services.redis, prefix, ["dokumente"], now, 8))["dokumente"]
    assert (whole.completed_total, whole.failed_total) == (1, 1)
    assert (seven.completed_total, seven.failed_total) == (1, 0)
    assert seven.run is not None and seven.run.count == 1
    assert (eight.completed_total, eight.failed_total, eight.run) == (0, 0, None)
