"""Pure pieces of the job explorer: percentiles, the minute chart, texts and search input."""

from __future__ import annotations

import json

from ailawyer.app.web.admin.jobs.charts import HEIGHT, bars
from ailawyer.app.web.admin.jobs.explorer import (
    SearchCursor,
    SearchQuery,
    pretty_json,
    summarize_job,
)
from ailawyer.app.web.admin.jobs.route_support import ms_de, notice_from
from ailawyer.jobs.metrics import MetricsBuffer, QueueMetrics, percentile, summarize

MINUTES = 60


def test_percentiles_are_nearest_rank_and_skip_malformed_samples() -> None:
    samples = [f"1700000000:{ms}" for ms in range(1, 101)] + ["kaputt", "1:x"]

    result = summarize(samples)

    assert result is not None
    assert (result.p50, result.p95, result.count, result.oldest) == (50, 95, 100, 1700000000)
    assert percentile([7.0], 0.95) == 7.0
    assert summarize(["kaputt"]) is None


def test_the_buffer_counts_per_minute_and_keeps_only_the_newest_samples() -> None:
    buffer = MetricsBuffer()
    for second in (60, 119, 120):
        buffer.count("test", "completed", second)
    for ms in range(1500):
        buffer.sample("test", "run", 100, ms)

    assert dict(buffer.counts) == {("test", "completed", 1): 2, ("test", "completed", 2): 1}
    kept = buffer.samples[("test", "run")]
    assert len(kept) == 1000 and kept[-1] == "100:1499"


def test_bars_scale_to_the_busiest_minute_and_stack_failures_on_top() -> None:
    completed = [0] * MINUTES
    failed = [0] * MINUTES
    completed[-1], failed[-1], completed[0] = 6, 2, 4
    metrics = QueueMetrics("test", 1000, completed, failed, None, None)

    drawn = bars(metrics)

    assert len(drawn) == MINUTES
    last = drawn[-1]
    assert last.completed_height + last.failed_height == HEIGHT
    assert last.failed_y + last.failed_height == last.completed_y
    assert drawn[0].completed_height == HEIGHT / 2
    assert bars(QueueMetrics("x", 0, [0] * MINUTES, [0] * MINUTES, None, None))[0].x == 0


def test_short_durations_and_notices_read_well_in_german() -> None:
    assert [ms_de(None), ms_de(12.4), ms_de(1500), ms_de(125_000)] == [
        "—",
        "12 ms",
        "1,5 s",
        "2 Min. 5 s",
    ]
    assert notice_from("cleaned", 1).text == "1 Vorgang wurde entfernt."  # type: ignore[union-attr]
    assert notice_from("cleaned", 1234).text == "1.234 Vorgänge wurden entfernt."  # type: ignore[union-attr]
    assert notice_from("cleaned", None).text == "Die Vorgänge wurden entfernt."  # type: ignore[union-attr]
    assert notice_from("<script>", 1) is None


def test_search_input_is_text_or_one_field_and_cursors_parse_strictly() -> None:
    assert SearchQuery.parse("  Akte Müller ") == SearchQuery(text="Akte Müller")
    assert SearchQuery.parse("akteId = 12") == SearchQuery("akteId = 12", "akteId", "12")
    assert SearchQuery.parse("a b=c").field is None
    # Lowered for ASCII only (Lua lowers only ASCII), with the \\u-escaped form bullmq stores.
    assert SearchQuery.parse("Müller").script_match() == [
        "text",
        "1",
        "müller",
        "m\\u00fcller",
        "",
    ]
    assert SearchQuery.parse("0815").script_match() == ["text", "0", "0815", "", ""]
    # Rows the term names in the database (search.rows_named_by), as the script reads them.
    named = SearchQuery("Weber", references=frozenset({("akteId", 3), ("dokumentId", 12)}))
    assert named.script_match()[-1] == ",akteId:3,dokumentId:12,"
    assert SearchCursor.parse("failed:20") == SearchCursor("failed", 20)
    assert SearchCursor.parse("nope:1") is None and SearchCursor.parse("failed:-1") is None


def test_job_fields_are_read_leniently() -> None:
    job = summarize_job(
        "7",
        {"data": "{kaputt", "opts": json.dumps({"attempts": 3}), "timestamp": "x", "atm": "2"},
        "failed",
    )

    assert (job.akte_id, job.created, job.attempts_made, job.attempts_max) == (None, None, 2, 3)
    assert summarize_job("8", {"data": '{"akteId": true}'}, None).akte_id is None
    assert pretty_json("kein json") == "kein json"
    assert pretty_json('{"a":1}') == '{\n  "a": 1\n}'
