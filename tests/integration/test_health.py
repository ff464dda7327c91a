"""`GET /api/health` with everything up, and with Redis stopped."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from tests.conftest import process_env
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer


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

        redis.start()
        recovered = _wait_for_status(url, "degraded")
        assert recovered["services"]["redis"]["status"] == "up"
    finally:
        assert app.stop() == 0, app.output()[-3000:]
        redis.stop()
