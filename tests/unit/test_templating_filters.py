"""German formatting filters: durations, sizes, and times in the installation's TIME_ZONE."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ailawyer.app.web.templating import bytes_de, datetime_de, duration_de, timestamp_de
from ailawyer.config import Settings

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WINTER = datetime(2026, 11, 28, 13, 5, 9, 123_456, tzinfo=UTC)
SUMMER = datetime(2026, 5, 28, 13, 5, 9, 7_000, tzinfo=UTC)


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


def test_timestamp_de_shows_the_zones_time_to_the_second_without_milliseconds() -> None:
    assert timestamp_de(WINTER, BERLIN) == "28.11.2026, 14:05:09"
    assert timestamp_de(SUMMER, BERLIN) == "28.05.2026, 15:05:09"
    assert timestamp_de(WINTER, NEW_YORK) == "28.11.2026, 08:05:09"
    assert timestamp_de(None, BERLIN) == "—"


def test_datetime_de_shows_the_zones_date_and_minute() -> None:
    assert datetime_de(WINTER, BERLIN) == "28.11.2026, 14:05"
    assert datetime_de(SUMMER, NEW_YORK) == "28.05.2026, 09:05"
    # Across midnight the date moves with the zone.
    assert datetime_de(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), BERLIN) == "01.01.2027, 00:30"
    assert datetime_de(None, BERLIN) == "—"


def test_a_naive_datetime_is_read_as_utc_not_as_the_servers_time() -> None:
    # SQLite hands back naive datetimes that were stored as UTC.
    naive = WINTER.replace(tzinfo=None)

    assert timestamp_de(naive, BERLIN) == timestamp_de(WINTER, BERLIN)
    assert datetime_de(naive, NEW_YORK) == datetime_de(WINTER, NEW_YORK)


def test_time_zone_defaults_to_berlin_and_a_setting_changes_the_display_zone() -> None:
    assert Settings(_env_file=None, environment="test").display_zone == BERLIN
    chosen = Settings(_env_file=None, environment="test", time_zone="America/New_York")

    assert timestamp_de(WINTER, chosen.display_zone) == "28.11.2026, 08:05:09"


@pytest.mark.parametrize("name", ["", "Mitteleuropa", "europe/berlin", "../etc/passwd"])
def test_an_unknown_time_zone_stops_the_settings_with_its_reason(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        Settings(_env_file=None, environment="test", time_zone=name)
