"""The job explorer's pages over HTTP: counts, lists, one job, search, escaping."""

from __future__ import annotations

import re

import httpx
from tests.support.factories import Factory
from tests.support.job_explorer import (
    COUNT,
    FAILURE,
    LOG_LINE,
    ROW,
    add,
    counts_on,
    finish,
    probe_queue,
)

from ailawyer.app.web.admin.jobs.explorer import STATE_LABELS, JobSearch, SearchCursor, SearchQuery
from ailawyer.db.models import User
from ailawyer.jobs.bullmq_adapter import STATES, read_counts
from ailawyer.services import Services


async def newest_first(services: Services, queue: str, ids: list[str]) -> bool:
    """Whether the jobs `ids` are ordered by their finishing time, newest first."""
    times = [(await services.jobs.get_job(queue, job_id)).finishedOn for job_id in ids]  # type: ignore[union-attr]
    return times == sorted(times, reverse=True)


async def test_the_overview_shows_every_state_count_of_every_queue(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(
        services, completed=3, failed=2, waiting=4, delayed=1, prioritized=2, active=1
    ) as probe:
        page = await operator_client.get("/admin/jobs")
        answer = await operator_client.get(
            "/admin/jobs/counts", headers={"Accept": "application/json"}
        )

    assert page.status_code == 200
    expected = {
        "waiting": 4,
        "prioritized": 2,
        "delayed": 1,
        "active": 1,
        "waiting-children": 0,
        "completed": 3,
        "failed": 2,
    }
    assert counts_on(page.text, probe.name) == expected
    # The declared queues are listed too, found or not in Redis.
    assert {"dokumente", "system", "test"} <= {name for name, _, _ in COUNT.findall(page.text)}
    assert answer.json()["queues"][probe.name] == {"counts": expected, "paused": False}
    card = page.text[page.text.index(f'data-queue="{probe.name}"') :]
    card = card[: card.index("</article>")]
    assert "nicht deklariert" in card and f'data-no-worker="{probe.name}"' in card


async def test_a_state_lists_its_jobs_newest_first_a_page_at_a_time(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    async with probe_queue(services, completed=30) as probe:
        first = await operator_client.get(f"/admin/jobs/queues/{probe.name}?status=completed")
        second = await operator_client.get(
            f"/admin/jobs/queues/{probe.name}?status=completed&seite=2"
        )
        fragment = await operator_client.get(
            f"/admin/jobs/queues/{probe.name}/list?status=completed&seite=2"
        )

    shown = [job_id for job_id, _ in ROW.findall(first.text + second.text)]
    assert len(ROW.findall(first.text)) == 25
    assert sorted(shown) == sorted(probe.ids["completed"])
    assert await newest_first(services, probe.name, shown)
    assert "Seite 2 von 2" in second.text
    # The refresh fragment is the same list without the page around it.
    assert fragment.text.lstrip().startswith('<div id="queue-body"')
    assert ROW.findall(fragment.text) == ROW.findall(second.text)


async def test_a_failed_job_shows_its_reason_each_attempts_stack_trace_and_its_log(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    queue = "probe-failing"
    (job_id,) = await finish(
        services,
        queue,
        [({"outcome": "fail", "n": 7, "logLines": 2}, {"attempts": 2, "backoff": 0})],
    )

    page = await operator_client.get(f"/admin/jobs/queues/{queue}/jobs/{job_id}")

    assert page.status_code == 200
    assert 'data-job-state="failed"' in page.text
    assert f"data-failed-reason>{FAILURE.format(n=7)}<" in page.text
    traces = re.findall(r"<pre class=\"code-block\" data-stacktrace>(.*?)</pre>", page.text, re.S)
    assert len(traces) == 2
    assert all("RuntimeError: Sondenfehler 7" in trace for trace in traces)
    assert all("Traceback (most recent call last)" in trace for trace in traces)
    lines = re.findall(r"<li>(.*?)</li>", page.text.split("data-job-log>")[1].split("</ol>")[0])
    # Two lines per attempt, in the order they were written.
    assert lines == [LOG_LINE.format(n=7, step=s) for s in (1, 2)] * 2
    assert "2 von 2" in page.text  # attempts made of allowed


async def test_job_data_is_shown_as_formatted_json_and_escaped(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    job_id = await add(services, "probe-escaping", {"note": hostile, "akteId": 5})

    page = await operator_client.get(f"/admin/jobs/queues/probe-escaping/jobs/{job_id}")
    listing = await operator_client.get("/admin/jobs/queues/probe-escaping?status=waiting")

    assert hostile not in page.text and hostile not in listing.text
    assert "&lt;img src=x onerror=" in page.text
    # Indented: one key per line.
    assert '{\n  "note": ' in page.text.replace("&#34;", '"')


async def test_the_akte_and_user_are_named_only_within_the_viewers_kanzlei(
    operator_client: httpx.AsyncClient, services: Services, factory: Factory, operator: User
) -> None:
    own = await factory.akte(operator.kanzlei_id)
    foreign = await factory.akte((await factory.kanzlei()).id)
    mine = await add(services, "probe-owners", {"akteId": own.id, "userId": operator.id})
    theirs = await add(services, "probe-owners", {"akteId": foreign.id})

    page = await operator_client.get("/admin/jobs/queues/probe-owners?status=waiting")

    rows = dict(
        re.findall(
            r'<tr data-job-id="([^"]+)".*?data-label="Akte / Benutzer">(.*?)</td>', page.text, re.S
        )
    )
    assert own.aktenzeichen in rows[mine] and operator.name in rows[mine]
    assert foreign.aktenzeichen not in page.text
    assert f"#{foreign.id}" in rows[theirs]


async def test_search_finds_jobs_by_payload_text_field_value_id_and_name(
    operator_client: httpx.AsyncClient, services: Services
) -> None:
    queue = "probe-search"
    others = [({"n": n, "akteId": 1000 + n, "outcome": "complete"}, {}) for n in range(1, 40)]
    await finish(services, queue, others)
    needle = await add(services, queue, {"n": 99, "akteId": 123, "aktenzeichen": "Marker-4711/26"})
    twelve = await add(services, queue, {"n": 100, "akteId": 12})

    async def found(q: str) -> list[str]:
        page = await operator_client.get(f"/admin/jobs/queues/{queue}", params={"q": q})
        assert page.status_code == 200
        return [job_id for job_id, _ in ROW.findall(page.text)]

    assert await found("marker-4711") == [needle]  # text in the payload, any case
    assert await found("akteId=12") == [twelve]  # the exact value of one field, not 123
    assert await found(needle) == [needle]  # an id, in one lookup
    assert len(await found("sonde")) == 41  # the job name
    assert await found("gibt-es-nicht") == []


async def test_search_inspects_a_bounded_number_of_jobs_and_resumes_where_it_stopped(
    services: Services,
) -> None:
    queue = "probe-bounded"
    ids = await finish(services, queue, [({"n": n, "outcome": "complete"}, {}) for n in range(30)])
    bull_queue = services.jobs.queue(queue)
    counts = await read_counts(bull_queue)
    search = JobSearch(services.jobs.redis)

    first = await search.search(bull_queue, counts, SearchQuery.parse("sonde"), budget=12, limit=50)
    rest = await search.search(
        bull_queue, counts, SearchQuery.parse("sonde"), cursor=first.next_cursor, budget=100
    )
    few = await search.search(bull_queue, counts, SearchQuery.parse("sonde"), limit=5)

    assert (first.scanned, len(first.rows), first.next_cursor) == (
        12,
        12,
        SearchCursor("completed", 12),
    )
    assert rest.next_cursor is None
    found = [r.id for r in first.rows + rest.rows]
    assert sorted(found) == sorted(ids) and await newest_first(services, queue, found)
    # Stopped after the 5th match: it resumes right after it.
    assert few.next_cursor == SearchCursor("completed", 5) and len(few.rows) == 5


async def test_an_unknown_queue_or_job_is_a_german_404(operator_client: httpx.AsyncClient) -> None:
    for path in ("/admin/jobs/queues/gibt-es-nicht", "/admin/jobs/queues/test/jobs/nein"):
        response = await operator_client.get(path)
        assert response.status_code == 404
        assert "Nicht gefunden" in response.text


def test_every_state_has_a_german_label() -> None:
    assert set(STATE_LABELS) == set(STATES)
