"""Accepting uploaded PDFs for an Akte: check by content, store, record, enqueue."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import delete

from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.dokumente.pdf import MAGIC_SEARCH_BYTES, looks_like_pdf
from ailawyer.dokumente.status import announce
from ailawyer.dokumente.storage import DokumentStorage, StoredFile
from ailawyer.dokumente.upload_limits import (
    UploadRate,
    UploadRefused,
    check_quota,
    kanzlei_of_akte,
    lock_kanzlei_storage,
    used_bytes,
)
from ailawyer.jobs.catalog import DOKUMENTE
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


def check_file(upload: IncomingFile, max_bytes: int) -> int:
    """The file's size; refuses a file that is too large (413) or not a PDF by content (400)."""
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
    return size


async def accept_uploads(
    services: Services, *, akte_id: int, user_id: int, uploads: list[IncomingFile]
) -> list[Dokument]:
    """Check the files, the user's rate and the Kanzlei's storage (all or nothing), then
    store and record every file, and enqueue each one (see `upload_limits` for the limits)."""
    settings = services.settings
    runtime = services.runtime_settings
    if not uploads:
        raise UploadRefused("Bitte wählen Sie mindestens eine PDF-Datei aus.")
    if len(uploads) > settings.max_upload_files:
        raise UploadRefused(
            f"Bitte laden Sie höchstens {settings.max_upload_files} Dateien auf einmal hoch."
        )
    sizes = [await asyncio.to_thread(check_file, u, settings.max_upload_bytes) for u in uploads]
    total = sum(sizes)
    async with services.db.session() as session:
        kanzlei_id = await kanzlei_of_akte(session, akte_id)
        # Early and without the lock: a full Kanzlei costs neither disk writes nor rate.
        check_quota(runtime, await used_bytes(session, kanzlei_id), total)
    rate = UploadRate(services.redis, runtime, prefix=settings.redis_key_prefix)
    reservation = await rate.reserve(user_id, len(uploads), total)
    storage = DokumentStorage(settings.upload_dir)
    stored: list[StoredFile] = []
    try:
        for upload in uploads:
            stored.append(await asyncio.to_thread(storage.save, akte_id, upload.file))
        dokumente = await _record(services, kanzlei_id, akte_id, user_id, uploads, stored)
    except BaseException:
        # Refused (storage full), or the database or the disk failed: nothing stays behind
        # and the user's hour is not charged.
        for file in stored:
            storage.delete(file.key)
        await rate.release(reservation)
        raise
    for index, dokument in enumerate(dokumente):
        payload = DokumentPayload(
            dokument_id=dokument.id, akte_id=akte_id, user_id=user_id, kanzlei_id=kanzlei_id
        )
        try:
            job = await services.jobs.enqueue(DOKUMENTE.name, payload, job_id=dokument.job_id)
        except Exception as error:
            # Without a job nothing would ever process them: take this file and every one
            # not yet enqueued back entirely (those before it are on their way).
            log.error(
                "dokument not enqueued; upload undone", dokumentId=dokument.id, error=repr(error)
            )
            await _take_back(services, storage, dokumente[index:])
            await rate.release(reservation.part(dokumente[index:]))
            raise UploadRefused(
                "Die Verarbeitung konnte gerade nicht gestartet werden. "
                "Bitte versuchen Sie es in einigen Minuten erneut.",
                status=503,
            ) from error
        log.info(
            "dokument uploaded", dokumentId=dokument.id, jobId=job.id, sizeBytes=dokument.size_bytes
        )
        await announce(
            services.emitter,
            akte_id,
            events.DOKUMENT_STATUS,
            {"dokumentId": dokument.id, "status": DokumentStatus.AUSSTEHEND.value},
        )
    return dokumente


async def _record(
    services: Services,
    kanzlei_id: int,
    akte_id: int,
    user_id: int,
    uploads: list[IncomingFile],
    stored: list[StoredFile],
) -> list[Dokument]:
    """Insert the rows, then decide the Kanzlei's storage with its row locked (see
    `upload_limits`): the rows of a parallel upload are either seen or wait for this one."""
    async with services.db.session() as session:
        await lock_kanzlei_storage(session, kanzlei_id)
        # The row exists before the job: a worker that starts at once finds it. Its job id
        # is chosen and stored with it, before the job exists: set afterwards, a database
        # restart or a killed app in between left a processed Dokument without it (and a
        # failed one without the page's retry button).
        dokumente = [
            Dokument(
                akte_id=akte_id,
                dateiname=clean_filename(upload.filename),
                storage_key=file.key,
                size_bytes=file.size_bytes,
                sha256=file.sha256,
                status=DokumentStatus.AUSSTEHEND,
                uploaded_by_id=user_id,
            )
            for upload, file in zip(uploads, stored, strict=True)
        ]
        session.add_all(dokumente)
        await session.flush()
        adding = sum(file.size_bytes for file in stored)
        check_quota(
            services.runtime_settings, await used_bytes(session, kanzlei_id) - adding, adding
        )
        for dokument in dokumente:
            dokument.job_id = dokument_job_id(dokument.id)
        await session.commit()
    return dokumente


async def _take_back(
    services: Services, storage: DokumentStorage, dokumente: list[Dokument]
) -> None:
    """Delete recorded Dokumente and their files again."""
    async with services.db.session() as session:
        await session.execute(delete(Dokument).where(Dokument.id.in_([d.id for d in dokumente])))
        await session.commit()
    for dokument in dokumente:
        storage.delete(dokument.storage_key)
