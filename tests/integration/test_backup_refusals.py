"""What backup and restore refuse, and that a refused restore writes nothing: an installation
that holds data, a schema newer than the code, a damaged file, Redis holding another
installation's jobs, missing PostgreSQL tools, a non-empty backup directory; and what a
backup does with a Dokument that lost or changed its file, or was taken back meanwhile."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.conftest import process_env
from tests.integration.test_cli import ailawyer
from tests.support.factories import Factory
from tests.support.installations import KINDS, installation, sha256_of, table_rows
from tests.support.jobs import job_services
from tests.support.pdfs import numbered_pdf

from ailawyer.backup import create as create_module
from ailawyer.backup.create import create_backup
from ailawyer.backup.errors import BackupError
from ailawyer.backup.files import STAGING, back_up_files
from ailawyer.backup.restore import restore_backup
from ailawyer.backup.sqlite import database_path
from ailawyer.config import Settings
from ailawyer.db.models import Dokument, DokumentStatus
from ailawyer.db.session import Database
from ailawyer.dokumente.storage import DokumentStorage
from ailawyer.domain.roles import Role
from ailawyer.jobs.payloads import DokumentPayload
from ailawyer.services import Services


@dataclass(frozen=True)
class Pair:
    """A filled installation with its backup, and an empty installation of the same kind."""

    source: Settings
    backup: Path
    target: Settings
    target_services: Services


async def fill(settings: Settings, files: int = 2) -> list[Dokument]:
    """A Kanzlei, a user, an Akte and `files` processed Dokumente with their files."""
    db = Database(settings.effective_database_url)
    try:
        factory = Factory(db)
        anwalt = await factory.user(Role.ANWALT)
        akte = await factory.akte(anwalt.kanzlei_id, anwalt=anwalt)
        storage = DokumentStorage(settings.upload_dir)
        dokumente = []
        async with db.session() as session:
            for number in range(1, files + 1):
                stored = storage.save(akte.id, io.BytesIO(numbered_pdf(number)))
                dokumente.append(
                    Dokument(
                        akte_id=akte.id,
                        dateiname=f"{number}.pdf",
                        storage_key=stored.key,
                        size_bytes=stored.size_bytes,
                        sha256=stored.sha256,
                        status=DokumentStatus.ABGESCHLOSSEN,
                        uploaded_by_id=anwalt.id,
                    )
                )
            session.add_all(dokumente)
            await session.commit()
        return dokumente
    finally:
        await db.dispose()


@pytest.fixture(scope="module", params=KINDS)
async def pair(
    request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    root = tmp_path_factory.mktemp(f"backup-refusals-{request.param}")
    async with (
        installation(request.param, settings, root / "quelle") as source,
        installation(request.param, settings, root / "ziel") as target,
        job_services(target) as target_services,
    ):
        await fill(source)
        await create_backup(source, root / "sicherung")
        yield Pair(source, root / "sicherung", target, target_services)


@pytest.fixture
async def untouched(pair: Pair) -> AsyncIterator[None]:
    """After the test the target is as empty as before: no rows, no files, no staging."""
    revision_before = await _revision(pair.target_services)
    yield
    rows = await table_rows(pair.target_services.db)
    assert all(not table for table in rows.values()), {k: len(v) for k, v in rows.items()}
    upload_dir = pair.target.upload_dir
    assert not upload_dir.exists() or not any(upload_dir.iterdir())
    assert not (upload_dir / STAGING).exists()
    assert await _revision(pair.target_services) == revision_before


async def _revision(services: Services) -> str | None:
    async with services.db.session() as session:
        return await session.scalar(text("SELECT version_num FROM alembic_version"))


def copy_of(backup: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(backup, tmp_path / "kopie"))


def edit_manifest(backup: Path, **changes: object) -> None:
    path = backup / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


async def test_restore_refuses_an_installation_that_holds_data_and_changes_nothing(
    pair: Pair,
) -> None:
    db = Database(pair.source.effective_database_url)
    try:
        rows_before = await table_rows(db)
        result = ailawyer(["backup", "restore", str(pair.backup)], process_env(pair.source))
        assert await table_rows(db) == rows_before
    finally:
        await db.dispose()

    assert result.returncode == 1
    assert "Wiederherstellen ist nur in eine leere Installation möglich" in result.stderr
    assert "Die Datenbank enthält Daten (Tabellen: kanzlei, users, akte" in result.stderr
    assert f"Das Upload-Verzeichnis {pair.source.upload_dir} enthält Dateien" in result.stderr


@pytest.mark.usefixtures("untouched")
async def test_restore_refuses_an_upload_directory_with_files(pair: Pair) -> None:
    stray = pair.target.upload_dir / "7" / "alt.pdf"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"%PDF-1.4 alt")
    try:
        with pytest.raises(BackupError, match=r"Upload-Verzeichnis .* enthält Dateien"):
            await restore_backup(pair.target, pair.backup)
        assert stray.read_bytes() == b"%PDF-1.4 alt"
    finally:
        shutil.rmtree(stray.parent)


@pytest.mark.usefixtures("untouched")
async def test_restore_refuses_a_backup_of_a_newer_schema(pair: Pair, tmp_path: Path) -> None:
    backup = copy_of(pair.backup, tmp_path)
    edit_manifest(backup, schema_revision="9999", app_version="9.0.0")

    with pytest.raises(BackupError) as refused:
        await restore_backup(pair.target, backup)

    assert "Schema-Revision 9999, die diese Version nicht kennt" in str(refused.value)
    assert "AI-Lawyer 9.0.0" in str(refused.value)


@pytest.mark.parametrize("damaged", ["a file", "the database"])
@pytest.mark.usefixtures("untouched")
async def test_restore_refuses_a_damaged_backup_before_writing_anything(
    pair: Pair, tmp_path: Path, damaged: str
) -> None:
    backup = copy_of(pair.backup, tmp_path)
    manifest = json.loads((backup / "manifest.json").read_text())
    entry = manifest["files"][-1] if damaged == "a file" else manifest["database"]["file"]
    path = backup / entry["path"]
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF  # same size, other content
    path.write_bytes(bytes(content))

    with pytest.raises(BackupError) as refused:
        await restore_backup(pair.target, backup)

    assert "ist beschädigt; nichts wurde geschrieben" in str(refused.value)
    assert f"{entry['path']}: Prüfsumme oder Größe stimmt nicht" in str(refused.value)


@pytest.mark.usefixtures("untouched")
async def test_restore_refuses_a_redis_that_holds_dokument_jobs(pair: Pair) -> None:
    """Jobs of an earlier installation under the same key prefix would share their ids
    with the Dokumente uploaded after the restore."""
    jobs = pair.target_services.jobs
    payload = DokumentPayload(dokument_id=1, akte_id=1, user_id=1, kanzlei_id=1)
    job = await jobs.enqueue("dokumente", payload, job_id="dokument-1", delay_ms=3_600_000)
    try:
        with pytest.raises(BackupError, match="Redis enthält 1 Aufträge der Dokumentverarbeitung"):
            await restore_backup(pair.target, pair.backup)
    finally:
        await jobs.queue("dokumente").remove(str(job.id))


@pytest.mark.parametrize("pair", ["postgresql"], indirect=True)
async def test_missing_postgresql_tools_are_named_with_what_to_install(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only this interpreter's directory: neither pg_dump nor pg_restore is found.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))

    with pytest.raises(BackupError) as dump_refused:
        await create_backup(pair.source, tmp_path / "neu")
    with pytest.raises(BackupError) as restore_refused:
        await restore_backup(pair.target, pair.backup)

    assert "pg_dump wurde nicht gefunden" in str(dump_refused.value)
    assert "(Debian/Ubuntu: Paket postgresql-client-<Version>)" in str(dump_refused.value)
    assert not (tmp_path / "neu").exists(), "no half backup is left behind"
    assert "pg_restore wurde nicht gefunden" in str(restore_refused.value)


@pytest.mark.parametrize("pair", ["sqlite"], indirect=True)
async def test_a_backup_never_writes_into_a_directory_that_holds_files(
    pair: Pair, tmp_path: Path
) -> None:
    (tmp_path / "alt.txt").write_text("eine ältere Sicherung")

    with pytest.raises(BackupError, match="ist nicht leer; Sicherungen werden nie überschrieben"):
        await create_backup(pair.source, tmp_path)

    assert os.listdir(tmp_path) == ["alt.txt"]


async def test_a_backup_stops_when_a_dokument_has_lost_its_file(
    settings: Settings, tmp_path: Path
) -> None:
    async with installation("sqlite", settings, tmp_path / "quelle") as source:
        _, lost = await fill(source)
        (source.upload_dir / lost.storage_key).unlink()

        with pytest.raises(BackupError, match=f"fehlen die Dateien der Dokumente {lost.id};"):
            await create_backup(source, tmp_path / "sicherung")

    assert not (tmp_path / "sicherung").exists()


async def test_a_file_that_differs_from_its_upload_is_backed_up_as_found_with_a_warning(
    settings: Settings, tmp_path: Path
) -> None:
    async with installation("sqlite", settings, tmp_path / "quelle") as source:
        _, changed = await fill(source)
        (source.upload_dir / changed.storage_key).write_bytes(b"%PDF-1.4 changed")

        result = await create_backup(source, tmp_path / "sicherung")

    [warning] = result.warnings
    assert warning.startswith(f"Dokument {changed.id} ({changed.storage_key}): die Datei stimmt")
    [entry] = [e for e in result.manifest.files if e.dokument_id == changed.id]
    assert (entry.sha256, entry.size_bytes) == (
        sha256_of(tmp_path / "sicherung" / entry.path),
        len(b"%PDF-1.4 changed"),
    )


async def test_a_dokument_taken_back_while_the_backup_runs_is_left_out_of_the_restore(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        installation("sqlite", settings, tmp_path / "quelle") as source,
        installation("sqlite", settings, tmp_path / "ziel") as target,
        job_services(target) as target_services,
    ):
        kept, taken_back = await fill(source)

        def taken_back_after_the_snapshot(*args: object) -> object:
            # What an upload whose job could not be enqueued does (dokumente.upload
            # `_take_back`), here between the database snapshot and the file copy.
            with closing(sqlite3.connect(database_path(source.effective_database_url))) as db:
                db.execute("DELETE FROM dokument WHERE id = ?", (taken_back.id,))
                db.commit()
            (source.upload_dir / taken_back.storage_key).unlink()
            return back_up_files(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(create_module, "back_up_files", taken_back_after_the_snapshot)
        created = await create_backup(source, tmp_path / "sicherung")
        restored = await restore_backup(target, tmp_path / "sicherung")
        rows = await table_rows(target_services.db)

    assert created.manifest.dropped_dokumente == [taken_back.id]
    assert created.manifest.database.tables["dokument"] == 2, "the snapshot still had it"
    assert restored.manifest.dropped_dokumente == [taken_back.id]
    assert list(rows["dokument"]) == [(kept.id,)]
    assert [p.name for p in (target.upload_dir / str(kept.akte_id)).iterdir()] == [
        Path(kept.storage_key).name
    ]
