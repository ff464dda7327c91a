"""No secret or password hash in any log line, health answer or Redis value (jobs included),
and no personal data in job payloads.

The first test does what could leak — a failed and a successful login, pages, the API, a
socket, an upload the real worker processes, the health check, a logout — then reads every
log file the test run has written so far and every key in Redis.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from tests.conftest import POSTGRES_ADMIN_URL
from tests.support.dokumente import upload, wait_for_status
from tests.support.factories import PASSWORD, PASSWORD_HASH, Factory
from tests.support.http import csrf_token_from, login
from tests.support.pdfs import text_pdf
from tests.support.ports import free_port
from tests.support.processes import AilawyerProcess
from tests.support.realtime import SocketClient
from tests.support.worker_processes import wait_for_workers

from ailawyer.auth.sessions import SESSION_COOKIE
from ailawyer.config import Settings
from ailawyer.db.models import DokumentStatus
from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.health import check_health
from ailawyer.process_registry import ProcessRegistry
from ailawyer.redis_client import create_redis
from ailawyer.services import Services

ARGON2 = "$argon2"
# What bullmq keeps of a job besides its bookkeeping.
JOB_FIELDS = ("data", "returnvalue", "failedReason", "stacktrace", "name")


def log_files(settings: Settings, tmp_root: Path) -> Iterator[Path]:
    """Every log file and captured process output of this test run so far."""
    yield from (path for path in settings.effective_log_dir.rglob("*") if path.is_file())
    yield from tmp_root.glob("*.out")


async def redis_values(redis: Redis) -> dict[str, list[str]]:
    """Every key in Redis with all the text it holds."""
    found: dict[str, list[str]] = {}
    async for key in redis.scan_iter(count=500):
        kind = await redis.type(key)
        if kind == "string":
            values = [await redis.get(key) or ""]
        elif kind == "hash":
            values = [f"{k}={v}" for k, v in (await redis.hgetall(key)).items()]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)
        elif kind == "set":
            values = list(await redis.smembers(key))
        elif kind == "zset":
            values = await redis.zrange(key, 0, -1)
        elif kind == "stream":
            values = [json.dumps(entry) for entry in await redis.xrange(key)]
        else:
            values = []
        found[key] = [str(value) for value in values]
    return found


def which(text: str, secrets: dict[str, str]) -> list[str]:
    return [what for what, secret in secrets.items() if secret and secret in text]


async def test_no_log_line_health_answer_or_redis_value_holds_a_secret(
    live_server: str,
    settings: Settings,
    services: Services,
    factory: Factory,
    worker_process: AilawyerProcess,
    tmp_root: Path,
    sockets: Callable[[], SocketClient],
) -> None:
    marker = uuid.uuid4().hex[:10]
    kanzlei = await factory.kanzlei()
    anwalt = await factory.user(Role.ANWALT, kanzlei=kanzlei, name=f"Anwältin {marker}")
    akte = await factory.akte(kanzlei, anwalt=anwalt, kurzrubrum=f"Mandant {marker} ./. X")
    wrong_password = f"falsches-Passwort-{marker}"
    await wait_for_workers(services, 1)

    async with httpx.AsyncClient(base_url=live_server, timeout=15) as client:
        token = csrf_token_from((await client.get("/anmelden")).text)
        refused = await client.post(
            "/anmelden",
            data={"email": anwalt.email, "password": wrong_password, "_csrf_token": token},
        )
        assert refused.status_code == 401
        await login(client, anwalt.email)
        session_token = client.cookies[SESSION_COOKIE]
        csrf_cookie = client.cookies["csrftoken"]
        socket = await sockets().connect(live_server, session_token)
        await socket.call("akte:join", akte.id)
        for path in ("/", f"/akten/{akte.id}", "/api/notifications", "/einstellungen"):
            assert (await client.get(path)).status_code == 200
        uploaded = await upload(client, akte.id, [(f"Vertrag {marker}.pdf", text_pdf([marker]))])
        dokument_id = uploaded.json()["dokumente"][0]["id"]
        await wait_for_status(services, dokument_id, DokumentStatus.ABGESCHLOSSEN, within=30)
        health = await client.get("/api/health")
        page = await client.get("/")
        await client.post("/abmelden", data={"_csrf_token": csrf_token_from(page.text)})

    secrets = {
        "SECRET_KEY": settings.secret_key,
        "the password": PASSWORD,
        "a wrong password": wrong_password,
        "the password hash": PASSWORD_HASH,
        "an argon2 hash": ARGON2,
        "the session cookie": session_token,
        "the CSRF cookie": csrf_cookie,
    }
    files = list(log_files(settings, tmp_root))
    in_logs = {
        f"{path.name}: {what}"
        for path in files
        for what in which(path.read_text(errors="replace"), secrets)
    }
    assert len(files) >= 3, "no log files found: are the processes logging elsewhere?"
    assert in_logs == set()

    assert health.status_code == 200
    infrastructure = {
        "the database URL": settings.effective_database_url,
        "the Redis URL": settings.redis_url or "",
    }
    assert which(health.text, secrets | infrastructure) == []

    personal = {
        "the user's name": anwalt.name,
        "the user's e-mail": anwalt.email,
        "the Akte": marker,
    }
    in_redis: list[str] = []
    for key, values in (await redis_values(services.redis)).items():
        for value in values:
            in_redis += [f"{key}: {what}" for what in which(value, secrets)]
            job_value = value.split("=", 1)[0] in JOB_FIELDS or key.endswith(":logs")
            if job_value:
                in_redis += [f"{key}: {what}" for what in which(value, personal)]
    assert in_redis == []


@pytest.mark.parametrize("which_one", ["database", "redis"])
async def test_the_health_answer_names_no_password_when_a_service_is_down(
    settings: Settings, which_one: str
) -> None:
    password = f"Geheim-{uuid.uuid4().hex}"
    host = POSTGRES_ADMIN_URL.split("@")[-1].split("/")[0]
    # The real PostgreSQL with a wrong password, or a Redis where none listens.
    database = Database(
        f"postgresql+asyncpg://ailawyer:{password}@{host}/postgres"
        if which_one == "database"
        else settings.effective_database_url
    )
    redis = create_redis(
        f"redis://:{password}@127.0.0.1:{free_port()}/0"
        if which_one == "redis"
        else settings.redis_url or ""
    )
    workers = ProcessRegistry(redis, prefix="health-probe", kind="worker", interval_seconds=1)
    try:
        report: dict[str, Any] = await check_health(database, redis, workers)
    finally:
        await redis.aclose()
        await database.engine.dispose()

    assert report["services"][which_one]["status"] == "down"
    assert password not in json.dumps(report)
