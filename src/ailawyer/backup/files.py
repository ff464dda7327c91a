"""The uploaded files of a backup: copied with their SHA-256, into the backup and back.

Every path goes through `DokumentStorage.path`, so neither a storage key nor a manifest
entry can name a file outside the upload or backup directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ailawyer.backup.errors import BackupError
from ailawyer.backup.manifest import CHUNK_BYTES, UploadEntry, inside
from ailawyer.backup.snapshot import DokumentFile
from ailawyer.dokumente.storage import DokumentStorage

UPLOADS = "uploads"
# Restored files wait here, next to their final place (one file system), until the
# database is restored; a failed restore removes it and leaves the upload directory empty.
STAGING = ".wiederherstellung"


@dataclass(frozen=True)
class CopiedFiles:
    entries: list[UploadEntry]
    # Rows whose file was not there when it was copied.
    missing: list[DokumentFile]
    # Copied, but the file differs from the size and checksum its row recorded at upload.
    mismatched: list[DokumentFile]


def copy_with_digest(source: Path, target: Path) -> tuple[str, int]:
    """Copy `source` to `target`, which appears under its name only complete and synced;
    returns the SHA-256 and size of what was copied."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".part")
    sha = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, temporary.open("wb") as out:
        while chunk := reader.read(CHUNK_BYTES):
            sha.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(target)
    return sha.hexdigest(), size


def back_up_files(upload_dir: Path, directory: Path, dokumente: list[DokumentFile]) -> CopiedFiles:
    """Copy the file of each Dokument into `directory/uploads/<storage key>`."""
    storage = DokumentStorage(upload_dir)
    backup = DokumentStorage(directory / UPLOADS)
    entries, missing, mismatched = [], [], []
    for dokument in dokumente:
        try:
            sha, size = copy_with_digest(
                storage.path(dokument.storage_key), backup.path(dokument.storage_key)
            )
        except FileNotFoundError:
            missing.append(dokument)
            continue
        entries.append(
            UploadEntry(
                path=f"{UPLOADS}/{dokument.storage_key}",
                sha256=sha,
                size_bytes=size,
                dokument_id=dokument.dokument_id,
            )
        )
        if (sha, size) != (dokument.sha256, dokument.size_bytes):
            mismatched.append(dokument)
    return CopiedFiles(entries=entries, missing=missing, mismatched=mismatched)


def staging_dir(upload_dir: Path) -> Path:
    return upload_dir / STAGING


def stage_files(directory: Path, files: list[UploadEntry], upload_dir: Path) -> None:
    """Copy the backup's files into the staging directory, checking each copy's checksum."""
    staging = DokumentStorage(staging_dir(upload_dir))
    for entry in files:
        key = PurePosixPath(entry.path).relative_to(UPLOADS).as_posix()
        copied = copy_with_digest(inside(directory, entry.path), staging.path(key))
        if copied != (entry.sha256, entry.size_bytes):
            raise BackupError(f"{entry.path} hat sich während der Wiederherstellung verändert.")


def move_into_place(upload_dir: Path) -> None:
    """Move the staged files to their final place (a rename per Akte directory)."""
    staging = staging_dir(upload_dir)
    if not staging.exists():
        return
    for child in staging.iterdir():
        # Replaces an empty directory of the same name (the upload directory has no files).
        os.replace(child, upload_dir / child.name)
    staging.rmdir()


def discard_staged(upload_dir: Path) -> None:
    shutil.rmtree(staging_dir(upload_dir), ignore_errors=True)


def first_file(upload_dir: Path) -> Path | None:
    """Any file under `upload_dir`, or None when it holds none (empty directories may be)."""
    if not upload_dir.exists():
        return None
    return next((path for path in upload_dir.rglob("*") if not path.is_dir()), None)
