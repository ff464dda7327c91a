"""`GET /api/health` with everything up, and with Redis stopped; reasons only for the operator."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import logged_in
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http
from tests.support.realtime import AppServer

from ailawyer.config import Settings
from ailawyer.domain.roles import Role
from ailawyer.embedded_redis import RedisServer
from ailawyer.health import check_health, public_report
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

NO_WORKER = "Kein Worker meldet sich."


def _wait_for_status(url: str, wanted: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        body = httpx.get(url, timeout=5).json()
        if body["status"] == wanted:
            return body
        time.sleep(0.2)
    raise AssertionError(f"health stayed {body}")


def test_health_is_healthy_with_database_redis_and_a_worker_up(
    live_server: str, worker_process: AilawyerProcess
) -> None:
    body = _wait_for_status(f"{live_server}/api/health", "healthy")

    response = httpx.get(f"{live_server}/api/health", timeout=5)
    assert response.status_code == 200
    services = body["services"]
    for name in ("database", "redis", "worker"):
        assert services[name]["status"] == "up"
        assert isinstance(services[name]["latencyMs"], float | int)
    assert services["worker"]["count"] >= 1
    assert "secret" not in response.text.lower()
    assert "postgresql" not in response.text.lower()


def test_health_is_503_with_redis_unhealthy_when_redis_stops(
    settings: Settings, tmp_path: Path
) -> None:
    redis = RedisServer(data_dir=tmp_path / "redis")
    redis.start()
    port = free_port()
    env = process_env(settings, REDIS_URL=redis.url)
    app = AilawyerProcess(["serve", "--port", str(port)], env, tmp_path / "serve.out")
    url = f"http://127.0.0.1:{port}/api/health"
    try:
        wait_for_http(url, process=app)
        assert httpx.get(url, timeout=5).json()["services"]["redis"]["status"] == "up"

        redis.stop()
        response = httpx.get(url, timeout=10)

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["services"]["redis"]["status"] == "down"
        assert body["services"]["database"]["status"] == "up"
        # No reason for anyone who asks: it named the address ("Error 111 connecting to
        # 127.0.0.1:<port>"). The operator's system page has it.
        assert all("detail" not in service for service in body["services"].values())
        for leak in (str(redis.port), "127.0.0.1", "Error", "connect"):
            assert leak not in response.text

        redis.start()
        recovered = _wait_for_status(url, "degraded")
        assert recovered["services"]["redis"]["status"] == "up"
    finally:
        assert app.stop() == 0, app.output()[-3000:]
        redis.stop()


async def test_only_the_operator_is_told_why_a_service_is_down(services: Services) -> None:
    nobody_listens = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    try:
        report = await check_health(services.db, nobody_listens, services.workers)
    finally:
        await nobody_listens.aclose()
    public = public_report(report)

    # The operator's view (system page) explains; everyone else sees states and latencies.
    assert report["services"]["redis"]["status"] == "down"
    assert report["services"]["redis"]["detail"]
    assert public["status"] == report["status"] == "unhealthy"
    assert public["services"]["redis"] == {
        "status": "down",
        "latencyMs": report["services"]["redis"]["latencyMs"],
    }
    assert all("detail" not in service for service in public["services"].values())


async def test_a_kanzlei_admin_sees_the_states_but_not_the_reasons(
    settings: Settings, tmp_path: Path, factory: Factory
) -> None:
    # An app on a Redis of its own, where no worker runs: the worker card has a reason.
    kanzlei = await factory.kanzlei()
    operator = await factory.user(Role.ADMIN, kanzlei=kanzlei, is_operator=True)
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    with RedisServer(data_dir=tmp_path / "redis") as redis:
        server = AppServer(process_env(settings, REDIS_URL=redis.url), tmp_path / "serve.out")
        server.start()
        try:
            pages = {}
            for user in (operator, admin):
                async with logged_in(server.url, user) as client:
                    pages[user.email] = (await client.get("/admin/")).text
        finally:
            server.stop()

    assert NO_WORKER in pages[operator.email]
    assert NO_WORKER not in pages[admin.email]
    assert "service-card--down" in pages[admin.email]
