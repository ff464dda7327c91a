"""The runtime settings service: typed, stored in SystemSetting, applied by every process."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from tests.support.jobs import isolated, job_services, wait_until

from ailawyer.config import DEFAULT_LOG_LEVEL, Settings
from ailawyer.db.models import SystemSetting
from ailawyer.embedded_redis import RedisServer
from ailawyer.runtime_settings.definitions import LOG_LEVEL, RUNTIME_SETTINGS, job_concurrency
from ailawyer.runtime_settings.registry import RuntimeSettingError, UnknownRuntimeSettingError
from ailawyer.services import Services

CONCURRENCY = job_concurrency("dokumente")


async def stored(services: Services, key: str) -> object:
    async with services.db.session() as session:
        row = await session.scalar(select(SystemSetting).where(SystemSetting.key == key))
        return None if row is None else row.value


async def test_a_setting_has_its_default_until_it_is_set(isolated_services: Services) -> None:
    runtime = isolated_services.runtime_settings

    assert runtime.get(CONCURRENCY) == 4
    # INFO, not the test run's LOG_LEVEL (DEBUG): LOG_LEVEL pins a process, it is no default.
    assert runtime.get(LOG_LEVEL) == DEFAULT_LOG_LEVEL

    assert await runtime.set(CONCURRENCY, "7") == 7
    assert runtime.get(CONCURRENCY) == 7
    assert await stored(isolated_services, CONCURRENCY) == 7


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (CONCURRENCY, 0, "erlaubt ist eine ganze Zahl von 1 bis 100"),
        (CONCURRENCY, "viele", "erlaubt ist eine ganze Zahl von 1 bis 100"),
        (LOG_LEVEL, "LAUT", "erlaubt ist DEBUG, INFO, WARNING, ERROR oder CRITICAL"),
    ],
)
async def test_an_invalid_value_is_refused_in_german_and_changes_nothing(
    isolated_services: Services, key: str, value: object, message: str
) -> None:
    runtime = isolated_services.runtime_settings
    before = runtime.get(key)

    with pytest.raises(RuntimeSettingError, match=message) as refused:
        await runtime.set(key, value)

    assert "Ungültiger Wert für „" in str(refused.value)
    assert runtime.get(key) == before
    assert await stored(isolated_services, key) is None


async def test_an_unknown_key_is_refused(isolated_services: Services) -> None:
    with pytest.raises(UnknownRuntimeSettingError):
        await isolated_services.runtime_settings.set("gibt.es.nicht", 1)


async def test_every_queue_has_a_concurrency_setting_with_a_german_label(
    settings: Settings,
) -> None:
    from ailawyer.jobs.catalog import QUEUES

    for name, definition in QUEUES.items():
        setting = RUNTIME_SETTINGS[job_concurrency(name)]
        assert definition.label in setting.label
        assert setting.default(settings) == definition.default_concurrency


async def test_a_change_reaches_another_process_within_a_second(
    settings: Settings, isolated_services: Services
) -> None:
    seen: list[int] = []
    async with job_services(isolated_services.settings) as other:
        await other.runtime_settings.watch(CONCURRENCY, seen.append)

        await isolated_services.runtime_settings.set(CONCURRENCY, 9)

        await wait_until(lambda: _value(other, CONCURRENCY, 9), within=1.0, what="the change")
    assert seen == [4, 9], "the watcher is called with the current value, then each change"


async def test_a_process_started_later_reads_the_current_values(
    isolated_services: Services,
) -> None:
    # Not the log level: the run's app and worker processes read the same table.
    await isolated_services.runtime_settings.set(CONCURRENCY, 3)

    async with job_services(isolated_services.settings) as later:
        assert later.runtime_settings.get(CONCURRENCY) == 3


async def test_a_process_rereads_everything_after_redis_comes_back(
    settings: Settings, services: Services, own_redis: RedisServer
) -> None:
    own_settings = isolated(settings, redis_url=own_redis.url)
    async with job_services(own_settings) as saving, job_services(own_settings) as missing:
        # A change it hears proves its listener is past the re-read that follows its first
        # subscription; that re-read could otherwise still read the change made below.
        await saving.runtime_settings.set(job_concurrency("test"), 3)
        await wait_until(
            lambda: _value(missing, job_concurrency("test"), 3), within=5, what="listening"
        )
        await asyncio.to_thread(own_redis.stop)
        # Stored while the other process cannot hear it: the publish fails, the row stays.
        await saving.runtime_settings.set(CONCURRENCY, 11)
        assert missing.runtime_settings.get(CONCURRENCY) == 4

        await asyncio.to_thread(own_redis.start)

        await wait_until(lambda: _value(missing, CONCURRENCY, 11), within=5, what="re-read")


async def _value(services: Services, key: str, expected: object) -> bool:
    return services.runtime_settings.get(key) == expected
