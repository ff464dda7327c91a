"""Runtime settings in tests: wait until processes applied a change, and undo changes.

The run's `ailawyer serve` and `ailawyer worker` keep their settings in memory, and every
test shares the SystemSetting table; a test that changes settings through them restores
the defaults (`defaults_restored`) so that no later test sees its values.
"""

from __future__ import annotations

from sqlalchemy import delete
from tests.support.jobs import wait_until

from ailawyer.db.models import SystemSetting
from ailawyer.runtime_settings.service import SettingChange
from ailawyer.services import Services


async def processes_applied(
    services: Services, pids: set[int] | None = None, *, at_least: int = 1
) -> bool:
    """Whether the live processes (or those with `pids`) acknowledged the latest change.

    `at_least`: so many processes must be seen; their heartbeats are gone for a moment
    after a test empties Redis, and none seen would pass for "all applied".
    """
    runtime = services.runtime_settings
    records = [*await services.apps.alive(), *await services.workers.alive()]
    records = [r for r in records if pids is None or r["pid"] in pids]
    if len(records) < max(at_least, len(pids or ())):
        return False
    version = await runtime.current_version()
    acks = await runtime.acknowledgements((r["host"], r["pid"]) for r in records)
    return all(ack is not None and ack.version == version for ack in acks)


async def wait_until_applied(
    services: Services, pids: set[int] | None = None, *, at_least: int = 1, within: float = 3
) -> None:
    async def applied() -> bool:
        return await processes_applied(services, pids, at_least=at_least)

    await wait_until(applied, within=within, what="the settings change in every process")


async def restore_defaults(services: Services) -> None:
    """Remove every stored value and make every process of the prefix use its defaults."""
    runtime = services.runtime_settings
    async with services.db.session() as db:
        await db.execute(delete(SystemSetting))
        await db.commit()
    # All keys, not only stored ones: a process may hold a value whose row is long gone.
    await runtime.publish(
        [
            SettingChange(key=d.key, old=None, new=d.to_json(runtime.default(d.key)), reset=True)
            for d in runtime.registry
        ]
    )
    await wait_until_applied(services, at_least=0, within=5)
