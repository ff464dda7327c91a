"""The documented deployment, for real: the project's Dockerfile built, the real
docker-compose.yml brought up with a `.env` made from `.env.example`, used through HTTP.

No registry is reachable here, so the base images the Dockerfile and the compose file name
are stand-ins built from Debian's packages (scripts/stack-images.sh, README "Production with
Docker Compose"); podman runs the containers behind its Docker API (tests/deployment/podman.py).
Needs root. Run it with `make stack`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.deployment.podman import (
    Compose,
    HealthTicker,
    build_images,
    docker_api,
    netavark_chains,
    podman,
    remove_netavark_chains,
    wait_for,
)
from tests.support.dokumente import upload
from tests.support.http import csrf_token, login
from tests.support.pdfs import numbered_pdf
from tests.support.ports import free_port

from ailawyer.dokumente.wording import pages_de
from ailawyer.notifications.types import SYSTEM_ALERT
from ailawyer.runtime_settings.definitions import ALERT_WORKER_MISSING_SECONDS

ROOT = Path(__file__).resolve().parents[2]
APP_IMAGE = "localhost/ailawyer:stack-test"
LONG_RUNNING = ("redis", "postgres", "app", "worker")
# Set only in .env, never in the image or the compose file: that they take effect shows
# that .env reaches the processes. The login page names the Kanzlei (app); the worker
# refuses a PDF longer than PDF_MAX_PAGES; the alerts are evaluated every
# ALERT_INTERVAL_SECONDS instead of every 10 s.
KANZLEI_NAME = "Kanzlei Stapeltest"
PDF_MAX_PAGES = 1
ALERT_INTERVAL_SECONDS = 1
# Cold, the images take many minutes; warm, the stack is up in about a minute.
pytestmark = pytest.mark.timeout(2400)


@dataclass
class Stack:
    compose: Compose
    base_url: str
    timings: dict[str, float]
    _admin: tuple[str, str] | None = None

    def admin(self) -> tuple[str, str]:
        """E-mail and password of the demo ADMIN (also the operator), created once."""
        if self._admin is None:
            output = self.compose.exec("app", "ailawyer", "demo")
            (line,) = [each for each in output.splitlines() if each.startswith("ADMIN ")]
            _role, email, password = line.split()
            self._admin = (email, password)
        return self._admin


def write_dotenv(directory: Path, port: int) -> None:
    """`cp .env.example .env`, then what an operator fills in, plus the test's own values."""
    values = {
        "SECRET_KEY": secrets.token_hex(32),
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "PORT": str(port),
        "AILAWYER_IMAGE": APP_IMAGE,
        "KANZLEI_NAME": KANZLEI_NAME,
        "PDF_MAX_PAGES": str(PDF_MAX_PAGES),
        "ALERT_INTERVAL_SECONDS": str(ALERT_INTERVAL_SECONDS),
        # The test speaks plain HTTP to the published port, without a TLS proxy.
        "SECURE_COOKIES": "false",
    }
    text = (ROOT / ".env.example").read_text()
    for name, value in values.items():
        text, count = re.subn(rf"^{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
        assert count == 1, f".env.example has no line {name}="
    (directory / ".env").write_text(text)


def every_service_healthy(compose: Compose) -> bool:
    migrate = compose.state("migrate")
    if migrate["Status"] == "exited":
        assert migrate["ExitCode"] == 0, compose.logs()
    healthy = all(compose.health(service) == "healthy" for service in LONG_RUNNING)
    return healthy and migrate["Status"] == "exited"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("stack")
    timings: dict[str, float] = {}
    started = time.monotonic()
    build_images(APP_IMAGE)
    timings["images"] = time.monotonic() - started
    port = free_port()
    write_dotenv(directory, port)
    project = f"ailawyer-stack-{uuid.uuid4().hex[:6]}"
    with docker_api(directory) as docker_host:
        compose = Compose(directory, project, docker_host)
        try:
            with HealthTicker(compose):
                started = time.monotonic()
                # Compose itself waits for healthy Redis and PostgreSQL and for the migration.
                compose.run("up", "--detach", "--no-build")
                wait_for(
                    lambda: every_service_healthy(compose),
                    within=300,
                    what="every healthcheck",
                    explain=compose.logs,
                )
                timings["up"] = time.monotonic() - started
                yield Stack(compose, f"http://127.0.0.1:{port}", timings)
        finally:
            started = time.monotonic()
            compose.run("down", "--volumes", "--timeout", "40")
            timings["down"] = time.monotonic() - started
    assert compose.containers() == []
    assert project not in podman("network", "ls", "--format={{.Name}}")
    assert project not in podman("volume", "ls", "--format={{.Name}}")
    remove_netavark_chains()
    assert netavark_chains() == {"nat": [], "filter": []}
    print("stack timings (s):", {name: round(value) for name, value in timings.items()})


@asynccontextmanager
async def operator_client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in through the login form as the demo ADMIN, who is also the operator."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as client:
        email, password = stack.admin()
        response = await login(client, email, password)
        assert response.status_code in (302, 303), response.text[:500]
        yield client


async def dokument_status(client: httpx.AsyncClient, akte_id: int, dokument_id: int) -> str:
    row = await client.get(f"/akten/{akte_id}/dokumente/{dokument_id}/zeile")
    found = re.search(r'data-status="([A-Z_]+)"', row.text)
    assert found, row.text[:500]
    return found.group(1)


async def wait_for_status(
    client: httpx.AsyncClient, akte_id: int, dokument_id: int, wanted: str, within: float = 90
) -> None:
    deadline = time.monotonic() + within
    while (status := await dokument_status(client, akte_id, dokument_id)) != wanted:
        assert status != "FEHLGESCHLAGEN" or wanted == "FEHLGESCHLAGEN", dokument_id
        assert time.monotonic() < deadline, f"Dokument {dokument_id} stayed {status}"
        await asyncio.sleep(0.5)


async def first_akte(client: httpx.AsyncClient) -> int:
    dashboard = await client.get("/")
    found = re.search(r'href="/akten/(\d+)"', dashboard.text)
    assert found, dashboard.text[:500]
    return int(found.group(1))


async def health(stack: Stack) -> dict:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:
        return (await client.get("/api/health")).json()


def test_every_service_is_healthy_and_the_image_runs_unprivileged(stack: Stack) -> None:
    for service in LONG_RUNNING:
        assert stack.compose.health(service) == "healthy", service
    assert stack.compose.state("migrate")["ExitCode"] == 0
    for service in ("app", "worker"):
        assert stack.compose.exec(service, "id", "-u").strip() == "10001"


async def test_sign_in_upload_and_see_it_processed_with_the_settings_of_dotenv(
    stack: Stack,
) -> None:
    async with operator_client(stack) as client:
        async with httpx.AsyncClient(base_url=stack.base_url) as anonymous:
            login_page = (await anonymous.get("/anmelden")).text
        assert KANZLEI_NAME in login_page  # KANZLEI_NAME from .env reached the app
        akte_id = await first_akte(client)

        answer = await upload(
            client, akte_id, [("kurz.pdf", numbered_pdf(1)), ("lang.pdf", numbered_pdf(2))]
        )
        assert answer.status_code == 201, answer.text[:500]
        short, long = (each["id"] for each in answer.json()["dokumente"])

        await wait_for_status(client, akte_id, short, "ABGESCHLOSSEN")
        text = (await client.get(f"/akten/{akte_id}/dokumente/{short}")).text
        assert "Seite 1 von 1" in text
        # PDF_MAX_PAGES from .env reached the worker, which refused the second page.
        await wait_for_status(client, akte_id, long, "FEHLGESCHLAGEN")
        reason = (await client.get(f"/akten/{akte_id}/dokumente/{long}")).text
        assert f"Die Datei hat mehr als {pages_de(PDF_MAX_PAGES)}." in reason


async def alert(client: httpx.AsyncClient, title_start: str, within: float = 60) -> dict:
    """The operator's SYSTEM_ALERT notification whose title starts with `title_start`."""
    deadline = time.monotonic() + within
    while True:
        items = (await client.get("/api/notifications/")).json()["items"]
        found = [
            each
            for each in items
            if each["type"] == SYSTEM_ALERT.key and each["title"].startswith(title_start)
        ]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no alert {title_start!r}: {items}"
        await asyncio.sleep(0.5)


async def save_runtime_setting(client: httpx.AsyncClient, key: str, value: str) -> None:
    """As the operator does on /admin/settings."""
    token = await csrf_token(client, "/admin/settings")
    answer = await client.post("/admin/settings", data={key: value, "_csrf_token": token})
    assert answer.status_code in (200, 303), answer.text[:500]


async def test_a_stopped_worker_is_reported_and_a_restarted_one_takes_over(
    stack: Stack,
) -> None:
    compose = stack.compose
    hostname = podman("inspect", compose.container("worker"), "--format={{.Config.Hostname}}")
    async with operator_client(stack) as client:
        system = (await client.get("/admin/system")).text
        assert 'data-process-kind="worker"' in system and hostname.strip() in system
        # The operator hears of a missing worker after 1 s instead of 60 s.
        await save_runtime_setting(client, ALERT_WORKER_MISSING_SECONDS, "1")

        compose.run("stop", "worker")
        assert compose.state("worker")["ExitCode"] == 0  # a graceful stop, within the grace
        assert (await health(stack))["services"]["worker"]["status"] == "down"
        system = (await client.get("/admin/system")).text
        assert 'data-process-kind="worker"' not in system
        started = await alert(client, "Störung: Kein Worker")
        assert started["severity"] == "error"

        compose.run("start", "worker")
        wait_for(lambda: compose.health("worker") == "healthy", within=120, what="the worker")
        assert (await health(stack))["services"]["worker"]["status"] == "up"
        await alert(client, "Behoben: Kein Worker")
        akte_id = await first_akte(client)
        answer = await upload(client, akte_id, [("danach.pdf", numbered_pdf(1))])
        (created,) = answer.json()["dokumente"]
        await wait_for_status(client, akte_id, created["id"], "ABGESCHLOSSEN")
