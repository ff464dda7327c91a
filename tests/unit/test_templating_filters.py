"""German formatting filters for durations, sizes and precise timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ailawyer.app.web.templating import bytes_de, duration_de, timestamp_de


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (-3, "0 s"),
        (0.4, "0 s"),
        (42, "42 s"),
        (303, "5 Min. 3 s"),
        (7500, "2 Std. 5 Min."),
        (86400 + 3600, "1 Tag 1 Std."),
        (3 * 86400 + 4 * 3600 + 59, "3 Tage 4 Std."),
    ],
)
def test_duration_de_names_the_two_largest_units(seconds: float | None, text: str) -> None:
    assert duration_de(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "—"),
        (512, "512 B"),
        (1536, "1,5 KiB"),
        (64 * 1024 * 1024, "64,0 MiB"),
        (int(12.3 * 1024**3), "12,3 GiB"),
        (5 * 1024**4, "5,0 TiB"),
    ],
)
def test_bytes_de_uses_binary_units_and_a_decimal_comma(size: int | None, text: str) -> None:
    assert bytes_de(size) == text


def test_timestamp_de_shows_berlin_time_to_the_millisecond() -> None:
    winter = datetime(2026, 11, 28, 13, 5, 9, 123_456, tzinfo=UTC)
    summer = datetime(2026, 5, 28, 13, 5, 9, 7_000, tzinfo=UTC)

    assert timestamp_de(winter) == "28.11.2026, 14:05:09,123"
    assert timestamp_de(summer) == "28.05.2026, 15:05:09,007"
    assert timestamp_de(None) == "—"
