"""While Redis is away, pages and APIs answer 503 with a German page or a JSON body, not 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess, wait_for_http

from ailawyer.config import Settings
from ailawyer.embedded_redis import RedisServer


async def test_requests_during_a_redis_outage_get_503_and_work_again_after(
    settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    # A Redis of its own (with AOF, so the session outlives the restart).
    redis = RedisServer(data_dir=tmp_path / "redis")
    redis.start()
    port = free_port()
    app = AilawyerProcess(
        ["serve", "--port", str(port)],
        process_env(settings, REDIS_URL=redis.url),
        tmp_path / "serve.out",
    )
    base = f"http://127.0.0.1:{port}"
    user = await factory.user()
    try:
        await asyncio.to_thread(wait_for_http, f"{base}/api/health", process=app)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await login(client, user.email)
            assert (await client.get("/")).status_code == 200

            await asyncio.to_thread(redis.stop)
            page = await client.get("/")
            api = await client.get("/api/notifications")
            await asyncio.to_thread(redis.start)
            after = await client.get("/")
    finally:
        assert app.stop() == 0, app.output()[-3000:]
        redis.stop()

    assert page.status_code == 503
    assert "Vorübergehend nicht erreichbar" in page.text
    assert "Traceback" not in page.text
    assert page.headers["retry-after"] == "5"
    assert api.status_code == 503
    assert api.json()["detail"] == "Service temporarily unavailable"
    assert after.status_code == 200
    assert "unhandled error" not in app.output()
