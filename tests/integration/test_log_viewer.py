"""The log viewer over HTTP: lines of the app and of a worker subprocess, filters, safety."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.jobs import wait_until
from tests.support.log_files import log_line, write_log
from tests.support.processes import AilawyerProcess

from ailawyer.config import Settings
from ailawyer.db.models import User
from ailawyer.jobs.payloads import AdminTestPayload
from ailawyer.services import Services

ENTRY = re.compile(
    r'<li class="log-line[^"]*" data-level="([^"]*)" data-process="([^"]*)">(.*?)</li>', re.DOTALL
)


def entries(page: str) -> list[tuple[str, str, str]]:
    """(level, process, inner HTML) of each entry shown."""
    return ENTRY.findall(page)


@pytest.fixture
def foreign_log_file(settings: Settings) -> Iterator[Path]:
    """A file in the live server's log directory, as another process would write it."""
    path = settings.effective_log_dir / f"cli-testhost-{uuid.uuid4().int % 10**9}.log"
    yield path
    path.unlink(missing_ok=True)


async def logs(http: httpx.AsyncClient, **params: str) -> str:
    response = await http.get("/admin/system/logs", params=params)
    assert response.status_code == 200
    return response.text


async def test_lines_of_the_app_and_of_a_worker_appear_and_filter_by_level_and_source(
    operator_client: httpx.AsyncClient,
    operator: User,
    services: Services,
    worker_process: AilawyerProcess,
) -> None:
    marker = uuid.uuid4().hex
    assert (await operator_client.get(f"/nicht-da-{marker}")).status_code == 404
    job_id = f"lv-{marker}"
    payload = AdminTestPayload(duration_ms=0, steps=1, failure="always", user_id=operator.id)
    await services.jobs.enqueue("test", payload, job_id=job_id)

    async def job_failed_for_good() -> str | None:
        page = await logs(operator_client, jobId=job_id)
        return page if "job failed for good" in page else None

    page = await wait_until(job_failed_for_good, within=30, interval=0.3, what="the job's lines")

    # The worker subprocess's lines of the job, with its error and stack trace.
    shown = entries(page)
    assert {process for _, process, _ in shown} == {"worker"}
    assert "job started" in page and "Fehlerdetails" in page and "AdminTestFailure" in page
    errors = entries(await logs(operator_client, jobId=job_id, level="error"))
    assert errors and {level for level, _, _ in errors} == {"error"}
    assert entries(await logs(operator_client, jobId=job_id, source="app")) == []
    by_logger = entries(await logs(operator_client, jobId=job_id, logger="ailawyer.worker"))
    assert by_logger and all(">ailawyer.worker<" in inner for _, _, inner in by_logger)
    assert entries(await logs(operator_client, jobId=job_id, logger="uvicorn")) == []
    # Each id in a line links to the same view filtered by it.
    assert f'href="/admin/system?jobId={job_id}#protokoll"' in page
    assert f'href="/admin/system?jobId={job_id}&amp;userId={operator.id}#protokoll"' in page

    # The app's request line for the unknown page.
    app_lines = entries(await logs(operator_client, q=marker, source="app"))
    assert [process for _, process, _ in app_lines] == ["app"]
    assert f"/nicht-da-{marker}" in app_lines[0][2] and "404" in app_lines[0][2]
    assert entries(await logs(operator_client, q=marker, source="app", level="warning")) == []
    assert entries(await logs(operator_client, q=f"/nicht-da-{marker}", source="worker")) == []


async def test_garbage_and_markup_in_log_files_are_shown_as_escaped_text(
    operator_client: httpx.AsyncClient, foreign_log_file: Path
) -> None:
    marker = uuid.uuid4().hex
    write_log(
        foreign_log_file,
        [
            f'<script>alert("{marker}")</script> kein JSON',
            log_line(1_780_000_000, f"<img src=x onerror=alert(1)> {marker}", jobId='"><b>x</b>'),
            "\x00\x01\x02 binär",
        ],
    )

    page = await operator_client.get("/admin/system", params={"q": marker})

    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert f"&lt;script&gt;alert(&#34;{marker}&#34;)&lt;/script&gt; kein JSON" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<b>x</b>" not in page.text
    shown = entries(page.text)
    assert [level for level, _, _ in shown] == [
        "info",
        "",
    ]  # newest first; the garbage has no level


async def test_a_filter_change_updates_the_address_and_auto_refresh_is_opt_in(
    operator_client: httpx.AsyncClient,
) -> None:
    headers = {"HX-Request": "true", "HX-Trigger": "log-filter"}

    live = await operator_client.get(
        "/admin/system/logs", params={"level": "warning", "live": "1"}, headers=headers
    )
    still = await operator_client.get(
        "/admin/system/logs", params={"level": "warning"}, headers=headers
    )
    poll = await operator_client.get(
        "/admin/system/logs",
        params={"live": "1"},
        headers={"HX-Request": "true", "HX-Trigger": "log-entries"},
    )
    page = await operator_client.get("/admin/system")

    assert live.headers["HX-Replace-Url"] == "/admin/system?level=warning&live=1#protokoll"
    assert 'hx-trigger="every 5s"' in live.text and 'data-live="on"' in live.text
    assert 'hx-trigger="every 5s"' not in still.text and 'data-live="off"' in still.text
    assert "HX-Replace-Url" not in poll.headers  # a refresh does not touch the address
    # Off by default, and the page renders the same partial the form asks for.
    assert 'id="log-live" name="live" value="1">' in page.text
    assert 'id="log-entries"' in page.text and 'data-live="off"' in page.text


async def test_unknown_filter_values_mean_no_filter(operator_client: httpx.AsyncClient) -> None:
    response = await operator_client.get(
        "/admin/system/logs", params={"level": "LAUT", "source": "../etc", "q": "x" * 5000}
    )

    assert response.status_code == 200
    assert "Keine passenden Einträge." in response.text or "log-line" in response.text
