"""`ailawyer backup restore DIR` into an empty installation.

Everything is checked before anything is written: the manifest, the schema revision (this
code must know it), the kind of database and the PostgreSQL tools, that the installation is
empty (database, upload directory, the Dokumente queue in Redis) and every file's checksum.
Then the files go into a staging directory, the database is restored and migrated to this
code's head, and the files move into place. Unfinished Dokumente have no job in this
installation's Redis: they are enqueued at once when Redis is reachable; otherwise the
workers' recovery (ailawyer.dokumente.recovery) finds them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import RedisError
from sqlalchemy import delete

from ailawyer.backup import database, schema
from ailawyer.backup.errors import BackupError
from ailawyer.backup.files import discard_staged, move_into_place, stage_files
from ailawyer.backup.installation import dokument_jobs, what_is_there
from ailawyer.backup.manifest import Manifest, inside, read_manifest, verify_checksums
from ailawyer.config import Settings
from ailawyer.db.migrate import upgrade
from ailawyer.db.models import Dokument
from ailawyer.db.session import Database
from ailawyer.dokumente.recovery import requeue_orphaned_dokumente
from ailawyer.services import Services

# Redis is asked with no socket timeout (ailawyer.redis_client): bound the wait here.
REDIS_SECONDS = 10.0


@dataclass(frozen=True)
class RestoreResult:
    manifest: Manifest
    # The schema revision after the migrations: this code's head.
    schema_revision: str
    # Dokumente enqueued for processing; None when Redis was out of reach (see redis_note).
    requeued: list[int] | None
    redis_note: str | None


async def restore_backup(settings: Settings, directory: Path) -> RestoreResult:
    """Restore the backup in `directory` into this (empty) installation."""
    manifest = read_manifest(directory)
    head = schema.head_revision()
    if not schema.knows(manifest.schema_revision):
        raise BackupError(
            f"Die Sicherung hat die Schema-Revision {manifest.schema_revision}, die diese "
            f"Version nicht kennt (neueste: {head}); sie stammt von einer neueren Version "
            f"(AI-Lawyer {manifest.app_version}). Bitte mit dieser oder einer neueren "
            "Version wiederherstellen."
        )
    url = settings.effective_database_url
    await database.check_restore(url, manifest.database)
    if reasons := await what_is_there(settings):
        raise BackupError(
            "Wiederherstellen ist nur in eine leere Installation möglich; nichts wurde "
            "geschrieben. " + " ".join(reasons)
        )
    services = Services.create(settings) if settings.redis_url else None
    try:
        redis_note = await _check_redis(services)
        await asyncio.to_thread(verify_checksums, directory, manifest)
        await _write(settings, directory, manifest)
        requeued = None
        if services is not None and redis_note is None:
            requeued = await requeue_orphaned_dokumente(services, grace_seconds=0)
    finally:
        if services is not None:
            await services.close()
    return RestoreResult(
        manifest=manifest, schema_revision=head, requeued=requeued, redis_note=redis_note
    )


async def _check_redis(services: Services | None) -> str | None:
    """Refuse a Redis with Dokument jobs; a note (German) when Redis cannot be asked."""
    if services is None:
        return "REDIS_URL ist nicht gesetzt"
    try:
        jobs = await asyncio.wait_for(dokument_jobs(services), REDIS_SECONDS)
    except (RedisError, OSError, TimeoutError) as error:
        return f"Redis ist nicht erreichbar ({error})"
    if jobs:
        raise BackupError(
            f"Redis enthält {jobs} Aufträge der Dokumentverarbeitung unter dem Präfix "
            f"{services.settings.redis_key_prefix!r}, vermutlich einer anderen Installation: "
            "Aufträge neuer Dokumente würden mit ihnen verwechselt. Bitte einen leeren "
            "Redis oder ein neues REDIS_KEY_PREFIX verwenden; nichts wurde geschrieben."
        )
    return None


async def _write(settings: Settings, directory: Path, manifest: Manifest) -> None:
    upload_dir = settings.upload_dir
    url = settings.effective_database_url
    try:
        await asyncio.to_thread(stage_files, directory, manifest.files, upload_dir)
        await database.restore(
            url, manifest.database, inside(directory, manifest.database.file.path)
        )
        # Alembic runs its own event loop: not on this one.
        await asyncio.to_thread(upgrade, url)
        await _drop_dokumente(url, manifest.dropped_dokumente)
    except BaseException:
        discard_staged(upload_dir)
        raise
    await asyncio.to_thread(move_into_place, upload_dir)


async def _drop_dokumente(url: str, ids: list[int]) -> None:
    """Remove the Dokumente whose upload was taken back while the backup was made."""
    if not ids:
        return
    db = Database(url)
    try:
        async with db.session() as session:
            await session.execute(delete(Dokument).where(Dokument.id.in_(ids)))
            await session.commit()
    finally:
        await db.dispose()
