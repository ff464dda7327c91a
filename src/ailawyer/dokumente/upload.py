"""Accepting uploaded PDFs for an Akte: check by content, store, record, enqueue."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente.pdf import MAGIC_SEARCH_BYTES, looks_like_pdf
from ailawyer.dokumente.status import announce
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.logs import get_logger
from ailawyer.realtime import events

if TYPE_CHECKING:
    from ailawyer.services import Services

log = get_logger(__name__)

NAME_MAX = 255
# Control characters, and the Unicode direction marks and overrides: with those, a name
# like "Rechnung\u202efdp.exe" would show as "Rechnungexe.pdf".
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class UploadRefused(Exception):
    """The upload cannot be accepted; `message` is German, `status` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class IncomingFile:
    """An uploaded file as the web layer hands it over (already spooled to disk)."""

    filename: str
    file: BinaryIO


def dokument_job_id(dokument_id: int) -> str:
    """The id of a Dokument's processing job (one job per Dokument; a retry reruns it)."""
    return f"dokument-{dokument_id}"


def clean_filename(raw: str) -> str:
    """The name to show: without a path, control or direction characters, surrounding blanks."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = _CONTROL.sub("", name).strip()
    return (name or "Dokument.pdf")[:NAME_MAX]


def check_file(upload: IncomingFile, max_bytes: int) -> None:
    """Refuse a file that is too large (413) or not a PDF by its content (400)."""
    name = clean_filename(upload.filename)
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    if size > max_bytes:
        limit_mb = max_bytes // (1024 * 1024)
        raise UploadRefused(
            f"„{name}“: Die Datei ist zu groß (höchstens {limit_mb} MB).", status=413
        )
    head = upload.file.read(MAGIC_SEARCH_BYTES)
    upload.file.seek(0)
    if not looks_like_pdf(head):
        raise UploadRefused(f"„{name}“: Die Datei ist kein PDF.")


async def accept_uploads(
    services: Services, *, akte_id: int, user_id: int, uploads: list[IncomingFile]
) -> list[Dokument]:
    """Check every file first (all or nothing), then store, record and enqueue each one."""
    settings = services.settings
    if not uploads:
        raise UploadRefused("Bitte wählen Sie mindestens eine PDF-Datei aus.")
    if len(uploads) > settings.max_upload_files:
        raise UploadRefused(
            f"Bitte laden Sie höchstens {settings.max_upload_files} Dateien auf einmal hoch."
        )
    for upload in uploads:
        await asyncio.to_thread(check_file, upload, settings.max_upload_bytes)
    return [await _accept(services, akte_id, user_id, upload) for upload in uploads]


async def _accept(services: Services, akte_id: int, user_id: int, upload: IncomingFile) -> Dokument:
    storage = DokumentStorage(services.settings.upload_dir)
    stored = await asyncio.to_thread(storage.save, akte_id, upload.file)
    # The row exists before the job: a worker that starts at once finds it. Its job id is
    # chosen and stored with it, before the job exists: set afterwards, a database restart
    # or a killed app in between left a processed Dokument without it (and a failed one
    # without the page's retry button).
    async with services.db.session() as session:
        dokument = Dokument(
            akte_id=akte_id,
            dateiname=clean_filename(upload.filename),
            storage_key=stored.key,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            status=DokumentStatus.AUSSTEHEND,
            uploaded_by_id=user_id,
        )
        session.add(dokument)
        await session.flush()
        dokument.job_id = dokument_job_id(dokument.id)
        await session.commit()
    payload = DokumentPayload(dokument_id=dokument.id, akte_id=akte_id, user_id=user_id)
    try:
        job = await services.jobs.enqueue("dokumente", payload, job_id=dokument.job_id)
    except Exception as error:
        # Without a job nothing would ever process it: take the upload back entirely.
        log.error("dokument not enqueued; upload undone", dokumentId=dokument.id, error=repr(error))
        async with services.db.session() as session:
            await session.delete(await session.get(Dokument, dokument.id))
            await session.commit()
        storage.delete(stored.key)
        raise UploadRefused(
            "Die Verarbeitung konnte gerade nicht gestartet werden. "
            "Bitte versuchen Sie es in einigen Minuten erneut.",
            status=503,
        ) from error
    log.info("dokument uploaded", dokumentId=dokument.id, jobId=job.id, sizeBytes=stored.size_bytes)
    await announce(
        services,
        akte_id,
        events.DOKUMENT_STATUS,
        {"dokumentId": dokument.id, "status": DokumentStatus.AUSSTEHEND.value},
    )
    return dokument
