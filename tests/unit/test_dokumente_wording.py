"""What a person reads about a Dokument's processing: plurals, clock times, status notes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente.wording import (
    NO_TEXT,
    TECHNICAL_REASON,
    clock_de,
    completed_de,
    pages_de,
    status_note,
)

BERLIN = ZoneInfo("Europe/Berlin")
DUE = datetime(2026, 12, 4, 7, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("count", "text"), [(1, "1 Seite"), (17, "17 Seiten"), (1000, "1.000 Seiten")]
)
def test_pages_have_the_right_plural(count: int, text: str) -> None:
    assert pages_de(count) == text


def test_a_time_is_read_on_the_installations_clock() -> None:
    assert clock_de(DUE, BERLIN) == "08:15"
    assert clock_de(DUE, ZoneInfo("America/New_York")) == "02:15"
    # SQLite gives naive datetimes back, stored as UTC.
    assert clock_de(DUE.replace(tzinfo=None), BERLIN) == "08:15"


def test_completed_notices_say_when_no_text_was_found() -> None:
    assert completed_de("a.pdf", 1, True) == "„a.pdf“ ist verarbeitet (1 Seite)."
    assert completed_de("a.pdf", 3, False) == f"„a.pdf“ ist verarbeitet (3 Seiten) – {NO_TEXT}."


@pytest.mark.parametrize(
    ("fields", "note"),
    [
        ({"status": DokumentStatus.IN_BEARBEITUNG}, None),
        ({"status": DokumentStatus.ABGESCHLOSSEN, "extracted_text": "Text"}, None),
        ({"status": DokumentStatus.ABGESCHLOSSEN, "extracted_text": " \n "}, NO_TEXT),
        (
            {
                "status": DokumentStatus.FEHLGESCHLAGEN,
                "failure_reason": "Die Datei ist beschädigt.",
            },
            "Die Datei ist beschädigt.",
        ),
        ({"status": DokumentStatus.FEHLGESCHLAGEN}, TECHNICAL_REASON),
        (
            {
                "status": DokumentStatus.AUSSTEHEND,
                "next_attempt": 2,
                "max_attempts": 4,
                "next_attempt_at": DUE,
            },
            "Versuch 2 von 4, nächster Versuch gegen 08:15",
        ),
        ({"status": DokumentStatus.AUSSTEHEND}, None),
    ],
)
def test_each_status_says_what_it_means(fields: dict[str, object], note: str | None) -> None:
    assert status_note(Dokument(**fields), BERLIN) == note
