"""bullmq calls event listeners synchronously inside its job bookkeeping: an exception in
one turns a finished job's "completed" into a failed move ("Missing lock"), and one in an
"active" listener leaves a fetched job unprocessed until it stalls. Every listener the
worker registers is therefore guarded."""

from __future__ import annotations

from typing import Any

from tests.support.jobs import running_pool, wait_for_state, wait_until

from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services
from ailawyer.worker.pool import guarded

QUICK = AdminTestPayload(duration_ms=0, steps=1)


def boom(*_args: Any) -> None:
    raise RuntimeError("listener bug")


async def test_every_listener_the_worker_registers_is_guarded(
    isolated_services: Services,
) -> None:
    async with running_pool(isolated_services) as pool:
        callbacks = [
            callback
            for runner in pool.runners
            for registered in runner.worker._callbacks.values()
            for callback in registered
        ]

    assert callbacks, "the pool registers listeners"
    assert all(cb.__qualname__ == guarded(boom).__qualname__ for cb in callbacks)


async def test_a_failing_listener_does_not_disturb_the_job(isolated_services: Services) -> None:
    errors: list[Exception] = []

    async def any_error() -> bool:
        return bool(errors)

    async with running_pool(isolated_services) as pool:
        worker = next(r.worker for r in pool.runners if r.binding.name == "test")
        worker.on("error", lambda error, *_: errors.append(error))

        worker.on("completed", guarded(boom))
        guarded_job = await isolated_services.jobs.enqueue("test", QUICK)
        await wait_for_state(isolated_services, "test", guarded_job.id, "completed", within=10)
        assert errors == []

        # The same listener unguarded: what the guard prevents.
        worker.on("completed", boom)
        await isolated_services.jobs.enqueue("test", QUICK)
        await wait_until(any_error, within=5, what="bullmq's error event")

    assert any("Missing lock" in str(error) for error in errors), errors
