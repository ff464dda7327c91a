"""What a person reads about a Dokument's processing, in German, said the same way everywhere.

The worker's notifications and the Akte and Dokument pages take their sentences from here,
so "1 Seite" and "17 Seiten" are right in every message, and the row, the page and the
bell describe a retry or a failure with the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ailawyer.db.models import Dokument, DokumentStatus

# The final failure's notification title (the seed's words).
FAILED_TITLE = "PDF-Verarbeitung fehlgeschlagen. Erneut versuchen?"
# Why a Dokument failed when no reason about the file itself is known: the cause was the
# system (database, Redis, a worker), and every automatic retry failed too.
TECHNICAL_REASON = (
    "Ein technischer Fehler ist aufgetreten; die Administration wurde benachrichtigt."
)
# The status of a Dokument that waits for an automatic retry.
RETRYING = "Wird erneut versucht"
# A PDF without a text layer: an image of paper, most likely.
NO_TEXT = "kein Text gefunden (gescanntes Dokument?)"
DAMAGED = "Die Datei ist beschädigt."
ENCRYPTED = "Die Datei ist passwortgeschützt."


def number_de(value: float) -> str:
    """A whole number with German thousands separators: 1.234."""
    return f"{value:,.0f}".replace(",", ".")


def pages_de(count: int) -> str:
    """ "1 Seite", "17 Seiten", "1.000 Seiten"."""
    return f"{number_de(count)} {'Seite' if count == 1 else 'Seiten'}"


def clock_de(moment: datetime, zone: ZoneInfo) -> str:
    """08:15 in `zone` (TIME_ZONE); SQLite hands back naive datetimes, stored as UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone):%H:%M}"


def next_attempt_de(next_attempt: int, max_attempts: int, due: datetime, zone: ZoneInfo) -> str:
    """ "Versuch 2 von 4, nächster Versuch gegen 08:15"."""
    return (
        f"Versuch {next_attempt} von {max_attempts}, nächster Versuch gegen {clock_de(due, zone)}"
    )


def retrying_de(next_attempt: int, max_attempts: int, due: datetime, zone: ZoneInfo) -> str:
    """ "Wird erneut versucht – Versuch 2 von 4, nächster Versuch gegen 08:15"."""
    return f"{RETRYING} – {next_attempt_de(next_attempt, max_attempts, due, zone)}"


def retry_due(dokument: Dokument) -> bool:
    """Whether the Dokument waits for an automatic retry (its last attempt failed)."""
    return dokument.status is DokumentStatus.AUSSTEHEND and dokument.next_attempt_at is not None


def status_note(dokument: Dokument, zone: ZoneInfo) -> str | None:
    """What the Akte's row and the Dokument's page say beside its status, if anything;
    times in `zone` (TIME_ZONE)."""
    if dokument.status is DokumentStatus.FEHLGESCHLAGEN:
        return dokument.failure_reason or TECHNICAL_REASON
    due, attempt, of = dokument.next_attempt_at, dokument.next_attempt, dokument.max_attempts
    if retry_due(dokument) and due is not None and attempt and of:
        return next_attempt_de(attempt, of, due, zone)
    if dokument.status is DokumentStatus.ABGESCHLOSSEN and not has_text(dokument.extracted_text):
        return NO_TEXT
    return None


def completed_de(dateiname: str, page_count: int, text_found: bool) -> str:
    """The uploader's notice that a Dokument is processed."""
    done = f"„{dateiname}“ ist verarbeitet ({pages_de(page_count)})"
    return f"{done}." if text_found else f"{done} – {NO_TEXT}."


def failed_de(dateiname: str, reason: str) -> str:
    """The uploader's notice that a Dokument failed for good, with the reason."""
    return f"„{dateiname}“ konnte nicht verarbeitet werden. {reason}"


def has_text(text: str | None) -> bool:
    """Whether extracted text holds anything but blanks (a scan's text layer is empty)."""
    return bool(text and text.strip())
