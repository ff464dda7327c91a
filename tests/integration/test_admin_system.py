"""`/admin/system`: service cards, Redis durability warnings, queue backlogs and processes."""

from __future__ import annotations

import platform
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from bullmq import Queue
from redis.asyncio import Redis
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.jobs import wait_until
from tests.support.personas import build_operator
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.app.web.admin.system.status import read_queue_backlogs
from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer
from ailawyer.redis_client import create_redis
from ailawyer.services import Services
from ailawyer.system_facts import read_redis_facts


@asynccontextmanager
async def admin_client(base_url: str, factory: Factory) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in as a new ADMIN."""
    admin = await build_operator(factory)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        assert (await login(client, admin.email)).status_code in (302, 303)
        yield client


def service_card(html: str, name: str) -> str:
    match = re.search(rf'<article[^>]*data-service="{name}".*?</article>', html, re.DOTALL)
    assert match, f"no card {name}"
    return match.group(0)


async def test_the_page_shows_every_service_and_the_running_processes(
    live_server: str, worker_process: AilawyerProcess, factory: Factory
) -> None:
    async with admin_client(live_server, factory) as client:

        async def page_with_both_kinds() -> str | None:
            # Each test starts with an empty Redis: wait for the next heartbeats.
            html = (await client.get("/admin/system")).text
            has_both = (
                'data-process-kind="app"' in html and f'data-pid="{worker_process.pid}"' in html
            )
            return html if has_both else None

        html = await wait_until(page_with_both_kinds, within=10, what="both heartbeats")
        status = await client.get("/admin/system/status")

    for name in ("database", "redis", "worker"):
        assert "service-card--up" in service_card(html, name)
    redis_card = service_card(html, "redis")
    assert "noeviction" in redis_card and "AOF:" in redis_card and ">an<" in redis_card
    assert 'data-warning="eviction"' not in redis_card
    queues = service_card(html, "queues")
    for queue in ("dokumente", "system", "test"):
        assert f'data-queue="{queue}"' in queues
    assert html.count('data-service="disk"') == 2 and "Speicherplatz Protokolle" in html
    assert f"Python <span data-python>{platform.python_version()}</span>" in html
    assert "diese Seite" in html  # the app process that answered marks its own row
    assert 'id="protokoll"' in html
    assert 'href="/admin/system" aria-current="page"' in html and 'href="/admin/audit"' in html
    # The polled partial is the same cards without the page around them.
    assert status.status_code == 200
    assert 'id="system-status"' in status.text and "<html" not in status.text


async def test_a_redis_that_may_evict_keys_gets_a_warning_also_when_config_is_locked(
    settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    redis_server = RedisServer(data_dir=tmp_path / "redis")
    redis_server.start()
    redis = create_redis(redis_server.url)
    port = free_port()
    app = AilawyerProcess(
        ["serve", "--port", str(port)],
        process_env(settings, REDIS_URL=redis_server.url),
        tmp_path / "serve.out",
    )
    try:
        await redis.config_set("maxmemory-policy", "allkeys-lru")
        wait_for_http(f"http://127.0.0.1:{port}/api/health", process=app)
        async with admin_client(f"http://127.0.0.1:{port}", factory) as client:
            card = service_card((await client.get("/admin/system")).text, "redis")
            assert 'data-warning="eviction"' in card and "allkeys-lru" in card
            assert "service-card--degraded" in card
            assert "CONFIG ist gesperrt" not in card

            # Managed Redis: CONFIG forbidden (here by ACL); INFO still tells the policy.
            await redis.execute_command("ACL", "SETUSER", "default", "-config")
            card = service_card((await client.get("/admin/system")).text, "redis")
            assert 'data-warning="eviction"' in card and "CONFIG ist gesperrt" in card
    finally:
        assert app.stop() == 0, app.output()[-3000:]
        await redis.aclose()
        redis_server.stop()


async def test_redis_facts_fall_back_to_info_when_config_is_forbidden(
    redis_server: RedisServer, services: Services
) -> None:
    facts = await read_redis_facts(services.redis)
    assert (facts.source, facts.aof_enabled, facts.eviction_policy) == (
        "config",
        True,
        "noeviction",
    )
    assert facts.used_memory and facts.used_memory > 0 and facts.status == "up"

    user = f"eingeschraenkt{uuid.uuid4().hex[:6]}"
    await services.redis.execute_command(
        "ACL", "SETUSER", user, "on", "nopass", "+@all", "-config", "~*"
    )
    limited = Redis.from_url(redis_server.url, username=user, decode_responses=True)
    try:
        facts = await read_redis_facts(limited)
    finally:
        await limited.aclose()
        await services.redis.execute_command("ACL", "DELUSER", user)

    assert (facts.source, facts.aof_enabled, facts.eviction_policy) == ("info", True, "noeviction")


async def test_the_backlog_shows_the_oldest_waiting_job_of_each_queue(services: Services) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:bull"
    queue = Queue("rueckstand", {"connection": services.redis, "prefix": prefix})
    old = time.time() - 600
    await queue.add("alt", {}, {"timestamp": int(old * 1000)})
    await queue.add("neu", {}, {})
    await queue.add("wichtig", {}, {"priority": 1})
    await queue.add("spaeter", {}, {"delay": 60_000})

    (backlog,) = await read_queue_backlogs(services.redis, prefix, ["rueckstand"])
    (empty,) = await read_queue_backlogs(services.redis, prefix, ["leer"])

    # Delayed jobs are not waiting yet; prioritized ones are.
    assert backlog.waiting == 3
    assert backlog.oldest_waiting_since == pytest.approx(old, abs=1)
    assert backlog.status(time.time()) == "degraded"  # waiting longer than five minutes
    assert (empty.waiting, empty.oldest_waiting_since, empty.status(time.time())) == (0, None, "up")
