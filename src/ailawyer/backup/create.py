"""`ailawyer backup create DIR`: the database snapshot, then the files its Dokumente name,
then the manifest. Safe while app and worker run (see ailawyer.backup)."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import select

from ailawyer.backup import database
from ailawyer.backup.errors import BackupError
from ailawyer.backup.files import back_up_files
from ailawyer.backup.manifest import (
    DatabaseEntry,
    Manifest,
    RuntimeSettingsEntry,
    entry_for,
    write_manifest,
)
from ailawyer.config import Settings
from ailawyer.db.models import Dokument, SystemSetting, utcnow
from ailawyer.db.session import Database


@dataclass(frozen=True)
class BackupResult:
    manifest: Manifest
    # German, for the operator: the backup is complete, but something deserves a look.
    warnings: list[str]


async def create_backup(settings: Settings, directory: Path) -> BackupResult:
    """Write a complete backup of the installation into the new or empty `directory`."""
    created = await asyncio.to_thread(_prepare, directory)
    try:
        return await _create(settings, directory)
    except BaseException:
        await asyncio.to_thread(_clear, directory, remove=created)
        raise


def _prepare(directory: Path) -> bool:
    """Make sure `directory` exists and is empty; whether it was created here."""
    if directory.exists():
        if any(directory.iterdir()):
            raise BackupError(
                f"Das Verzeichnis {directory} ist nicht leer; Sicherungen werden nie "
                "überschrieben. Bitte ein neues Verzeichnis angeben."
            )
        return False
    directory.mkdir(parents=True)
    return True


def _clear(directory: Path, *, remove: bool) -> None:
    """Empty `directory` again, or remove it: no half backup may pass for one."""
    if remove:
        shutil.rmtree(directory)
        return
    for child in directory.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


async def _create(settings: Settings, directory: Path) -> BackupResult:
    url = settings.effective_database_url
    dumped = await database.dump(url, directory)
    snapshot = dumped.snapshot
    copied = await asyncio.to_thread(
        back_up_files, settings.upload_dir, directory, snapshot.dokumente
    )
    dropped = await _taken_back([dokument.dokument_id for dokument in copied.missing], url)
    manifest = Manifest(
        app_version=version("ailawyer"),
        created_at=utcnow(),
        schema_revision=snapshot.schema_revision,
        database=DatabaseEntry(
            kind=database.database_kind(url),
            file=await asyncio.to_thread(entry_for, directory, dumped.file),
            server_version=dumped.server_version,
            tool_version=dumped.tool_version,
            tables=snapshot.tables,
        ),
        runtime_settings=RuntimeSettingsEntry(
            rows=snapshot.tables.get(SystemSetting.__tablename__, 0)
        ),
        files=copied.entries,
        dropped_dokumente=dropped,
    )
    write_manifest(directory, manifest)
    warnings = [
        f"Dokument {dokument.dokument_id} ({dokument.storage_key}): die Datei stimmt nicht "
        "mit der beim Hochladen gespeicherten Prüfsumme überein; gesichert wie vorgefunden."
        for dokument in copied.mismatched
    ]
    return BackupResult(manifest=manifest, warnings=warnings)


async def _taken_back(missing: list[int], url: str) -> list[int]:
    """The Dokumente of `missing` (no file when copied) that are gone from the database too.

    An upload whose job could not be enqueued deletes its row, then its file: a snapshot
    taken in between holds a row whose file is gone, of an upload the user was told had
    failed. A row still there without its file means the storage lost it: no backup.
    """
    if not missing:
        return []
    db = Database(url)
    try:
        async with db.session() as session:
            remaining = set(
                (await session.scalars(select(Dokument.id).where(Dokument.id.in_(missing)))).all()
            )
    finally:
        await db.dispose()
    if remaining:
        raise BackupError(
            "Im Upload-Verzeichnis fehlen die Dateien der Dokumente "
            f"{', '.join(map(str, sorted(remaining)))}; die Sicherung wurde abgebrochen."
        )
    return missing
