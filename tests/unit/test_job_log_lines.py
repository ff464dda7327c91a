"""A job's log line keeps its UTC time, so the explorer can show it in TIME_ZONE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ailawyer.jobs.log_lines import LogLine, read_line, stamped


def test_a_stamped_line_reads_back_as_its_time_and_text() -> None:
    at = datetime(2026, 12, 3, 6, 57, 33, 37_000, tzinfo=UTC)

    line = stamped("Versuch 1 gestartet", at)

    assert line == "2026-12-03T06:57:33.037Z Versuch 1 gestartet"
    assert read_line(line) == LogLine(at, "Versuch 1 gestartet")


def test_the_stamp_is_utc_whatever_zone_the_time_came_in() -> None:
    berlin_winter = timezone(timedelta(hours=1))

    line = stamped("x", datetime(2026, 12, 3, 7, 57, 33, tzinfo=berlin_winter))

    assert line.startswith("2026-12-03T06:57:33.000Z ")


def test_a_line_without_our_stamp_is_all_text() -> None:
    for line in ("Sonde 7: Schritt 1", "2026-12-03 ist ein Datum", "", "Z"):
        assert read_line(line) == LogLine(None, line)
