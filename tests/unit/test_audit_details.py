"""The audit page's reading of stored details: German names and values, unknown keys as is."""

from __future__ import annotations

from datetime import UTC, datetime

from ailawyer.app.web.admin.audit.details import Detail, details_of, target_name, text_of
from ailawyer.db.models import AuditLog


def entry(details: dict[str, object], target_type: str = "job", target_id: str = "x") -> AuditLog:
    return AuditLog(
        action="job.retry", target_type=target_type, target_id=target_id, details=details
    )


def test_known_keys_get_german_names_and_readable_values() -> None:
    shown = details_of(
        entry({"queue": "dokumente", "jobId": "dokument-4", "state": "failed", "durationMs": 450})
    )

    assert shown == [
        Detail("Warteschlange", "PDF-Verarbeitung (dokumente)"),
        Detail("Vorgangs-ID", "dokument-4", "code"),
        Detail("Zustand", "Fehlgeschlagen"),
        Detail("Dauer", "450 ms"),
    ]


def test_a_moment_in_milliseconds_is_left_to_the_page_as_a_time() -> None:
    (shown,) = details_of(entry({"upToMs": 1_780_000_000_000}))

    assert shown == Detail(
        "Stand der Bestätigung", datetime(2026, 5, 28, 20, 26, 40, tzinfo=UTC), "time"
    )


def test_an_unexpected_value_or_key_is_shown_as_it_is_without_failing() -> None:
    shown = details_of(entry({"upToMs": "gestern", "durationMs": None, "neu": [1, 2]}))

    assert shown == [
        Detail("Stand der Bestätigung", "gestern"),
        Detail("Dauer", "—"),
        Detail("neu", "[1, 2]"),
    ]


def test_values_read_in_german() -> None:
    assert [text_of(value) for value in (True, False, 604800, 1.5, "", None)] == [
        "ja",
        "nein",
        "604.800",
        "1,50",
        "(leer)",
        "—",
    ]


def test_a_setting_change_reads_before_and_after() -> None:
    shown = details_of(entry({"old": 3600, "new": 7200, "reset": True}, "setting", "x"))

    assert shown == [
        Detail("Vorher", "3.600"),
        Detail("Nachher", "7.200"),
        Detail("Auf Standardwert zurückgesetzt", "ja"),
    ]


def test_settings_and_queues_are_named_in_german() -> None:
    assert target_name(entry({}, "setting", "log.level")) == "Protokollstufe"
    assert target_name(entry({}, "queue", "dokumente")) == "PDF-Verarbeitung"
    assert target_name(entry({}, "setting", "nicht.mehr.da")) is None
    assert target_name(entry({}, "job", "dokumente/1")) is None


def test_structured_values_read_as_lists_and_json() -> None:
    shown = details_of(entry({"queues": ["dokumente", "test"], "after": {"every": 60000}}))

    assert shown == [
        Detail("Warteschlangen", "dokumente, test", "code"),
        Detail("Nachher", '{"every": 60000}', "code"),
    ]
