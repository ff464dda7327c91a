"""`GET /metrics`: the Prometheus text format for a scraper with METRICS_TOKEN, nobody else.

The app process scraped here runs no job itself: the jobs run in this test's process, so
the queue figures it reports are the installation's, read from Redis at scrape time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.jobs import isolated, job_services, running_pool, wait_for_state
from tests.support.personas import PARKED_MS, build_admin
from tests.support.realtime import AppServer, SocketClient, session_token

from ailawyer.config import Settings
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

TOKEN = "scrape-" + "k" * 40
QUICK = AdminTestPayload(duration_ms=0, steps=1)
FAILING = AdminTestPayload(duration_ms=0, steps=1, failure="always")


@pytest.fixture
async def metered(
    settings: Settings, services: Services, tmp_path: Path
) -> AsyncIterator[tuple[Services, AppServer]]:
    """Services on a key prefix of their own, and an app process with a METRICS_TOKEN."""
    own = isolated(settings)
    async with job_services(own) as own_services:
        app = AppServer(process_env(own, METRICS_TOKEN=TOKEN), tmp_path / "app.out")
        await asyncio.to_thread(app.start)
        try:
            yield own_services, app
        finally:
            app.stop()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_one_scrape_reports_the_installations_queues_and_this_process(
    metered: tuple[Services, AppServer], factory: Factory, sockets: Callable[[], SocketClient]
) -> None:
    services, app = metered
    jobs = services.jobs
    done = [await jobs.enqueue("test", QUICK) for _ in range(2)]
    failing = await jobs.enqueue("test", FAILING)
    await jobs.enqueue("test", QUICK, delay_ms=PARKED_MS)
    async with running_pool(services):
        for job in done:
            await wait_for_state(services, "test", str(job.id), "completed", within=15)
        await wait_for_state(services, "test", str(failing.id), "failed", within=15)
    await services.job_activity.flush()

    admin = await build_admin(factory)
    await sockets().connect(app.url, await session_token(app.url, admin.email))
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        scrape = {"Authorization": f"Bearer {TOKEN}"}
        before = samples((await http.get("/metrics", headers=scrape)).text)
        assert (await http.get("/api/health")).status_code == 200
        response = await http.get("/metrics", headers=scrape)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(response.text)

    def value(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    test = {"queue": "test"}
    assert value("ailawyer_jobs", state="completed", **test) == 2
    assert value("ailawyer_jobs", state="failed", **test) == 1
    assert value("ailawyer_jobs", state="delayed", **test) == 1
    assert value("ailawyer_jobs", state="waiting", queue="dokumente") == 0
    assert value("ailawyer_queue_paused", **test) == 0
    assert value("ailawyer_jobs_completed_total", **test) == 2
    assert value("ailawyer_jobs_failed_total", **test) == 1
    # Run time: every attempt (2 + the failing job's 4); wait: every job's first start.
    attempts = 2 + services.settings.job_attempts
    assert value("ailawyer_job_run_seconds_count", **test) == attempts
    assert value("ailawyer_job_run_seconds_bucket", le="+Inf", **test) == attempts
    assert value("ailawyer_job_run_seconds_bucket", le="60.0", **test) == attempts
    assert value("ailawyer_job_wait_seconds_count", **test) == 3
    assert 0 < value("ailawyer_job_wait_seconds_sum", **test) < 60
    assert value("ailawyer_socketio_connections") == 1
    # Each request once, under its route template.
    health = (("method", "GET"), ("route", "/api/health"), ("status", "200"))
    requests = "ailawyer_http_request_duration_seconds_count"
    assert found[(requests, health)] == before[(requests, health)] + 1
    assert value(requests, method="GET", route="/metrics", status="200") == 1
    assert value("process_cpu_seconds_total") > 0
    assert any(name == "python_info" for name, _ in found)


async def test_the_process_froze_its_start_up_and_reports_collection_pauses(
    metered: tuple[Services, AppServer],
) -> None:
    _, app = metered
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        found = samples(
            (await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
        )

    # Imports, routes and templates: well over 50,000 objects no collection walks again.
    assert found[("ailawyer_gc_frozen_objects", ())] > 50_000
    pauses = "ailawyer_gc_pause_seconds_count"
    assert {labels for name, labels in found if name == pauses} == {
        (("generation", str(generation)),) for generation in range(3)
    }


async def test_metrics_do_not_exist_without_a_token_setting(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        assert (await http.get("/metrics")).status_code == 404
        answer = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404 and "ailawyer" not in answer.text


async def test_a_wrong_or_missing_token_gets_401(metered: tuple[Services, AppServer]) -> None:
    _, app = metered
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as http:
        for headers in (
            {},
            {"Authorization": f"Bearer {TOKEN[:-1]}"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {TOKEN}"},
        ):
            answer = await http.get("/metrics", headers=headers)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "ailawyer_jobs" not in answer.text
        assert (await http.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})).is_success
