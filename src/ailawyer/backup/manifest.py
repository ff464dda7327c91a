"""`manifest.json`: what a backup holds, with a SHA-256 and size for every file in it.

The manifest is written last and atomically: a directory without one is an unfinished
backup. Restore reads it first and checks every checksum before it writes anything.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ailawyer.backup.errors import BackupError

MANIFEST_NAME = "manifest.json"
FORMAT = 1
CHUNK_BYTES = 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FileEntry(_Frozen):
    """One file of the backup, by its path relative to the backup directory."""

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(ge=0)


class DatabaseEntry(_Frozen):
    kind: Literal["postgresql", "sqlite"]
    file: FileEntry
    # PostgreSQL: the server's and pg_dump's version ("15.20"); SQLite: the library's.
    server_version: str
    tool_version: str | None
    # Rows per table in the snapshot, for the reader of the manifest.
    tables: dict[str, int]


class RuntimeSettingsEntry(_Frozen):
    """Where the runtime settings are: rows of the database, so they come with its snapshot."""

    stored_in: Literal["database"] = "database"
    table: str = "system_setting"
    rows: int


class UploadEntry(FileEntry):
    """The file of one Dokument; its path is `uploads/<storage key>`."""

    dokument_id: int


class Manifest(_Frozen):
    format: Literal[1] = FORMAT
    app_version: str
    created_at: datetime
    # The Alembic revision of the snapshot; restore refuses one this code does not know.
    schema_revision: str
    database: DatabaseEntry
    runtime_settings: RuntimeSettingsEntry
    files: list[UploadEntry]
    # Dokumente in the snapshot whose upload was taken back (row and file deleted) before
    # their file was copied: the user was told the upload failed, so restore removes them.
    dropped_dokumente: list[int] = []


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write the manifest under its final name only once it is complete on disk."""
    target = directory / MANIFEST_NAME
    temporary = target.with_suffix(".part")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(manifest.model_dump_json(indent=2))
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(target)


def read_manifest(directory: Path) -> Manifest:
    """The manifest of the backup in `directory`, or a German reason why there is none."""
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise BackupError(
            f"In {directory} liegt keine vollständige Sicherung ({MANIFEST_NAME} fehlt)."
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise BackupError(
            f"{path} ist beschädigt oder hat ein unbekanntes Format: {error}"
        ) from error


def digest(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at `path`."""
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def entry_for(directory: Path, path: Path) -> FileEntry:
    """The manifest entry of a file already written into the backup `directory`."""
    sha, size = digest(path)
    return FileEntry(path=path.relative_to(directory).as_posix(), sha256=sha, size_bytes=size)


def verify_checksums(directory: Path, manifest: Manifest) -> None:
    """Check size and SHA-256 of every file the manifest lists; all problems in one error."""
    problems = []
    for entry in [manifest.database.file, *manifest.files]:
        path = inside(directory, entry.path)
        if not path.is_file():
            problems.append(f"{entry.path}: fehlt")
        elif digest(path) != (entry.sha256, entry.size_bytes):
            problems.append(f"{entry.path}: Prüfsumme oder Größe stimmt nicht")
    if problems:
        listed = "\n  ".join(problems[:20])
        more = f"\n  … und {len(problems) - 20} weitere" if len(problems) > 20 else ""
        raise BackupError(
            f"Die Sicherung in {directory} ist beschädigt; nichts wurde geschrieben.\n"
            f"  {listed}{more}"
        )


def inside(directory: Path, relative: str) -> Path:
    """`relative` under `directory`; a manifest naming a path outside it is refused."""
    path = (directory / relative).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise BackupError(f"Das Manifest nennt einen Pfad außerhalb der Sicherung: {relative!r}")
    return path
