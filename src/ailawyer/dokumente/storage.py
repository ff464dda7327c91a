"""Uploaded files on disk: `<upload dir>/<akte id>/<random>.pdf`, written atomically."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    key: str
    size_bytes: int
    sha256: str


class DokumentStorage:
    """Files by storage key; a key never contains the user's file name."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        """Where the file of `key` lives; refuses keys that would leave the upload directory."""
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key outside the upload directory: {key!r}")
        return path

    def save(self, akte_id: int, source: BinaryIO) -> StoredFile:
        """Copy `source` into a new file; it appears under its final name only when complete."""
        key = f"{akte_id}/{uuid.uuid4().hex}.pdf"
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".part")
        digest = hashlib.sha256()
        size = 0
        with temporary.open("wb") as out:
            while chunk := source.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(target)
        return StoredFile(key=key, size_bytes=size, sha256=digest.hexdigest())

    def delete(self, key: str) -> None:
        """Remove the file of `key` if it exists."""
        self.path(key).unlink(missing_ok=True)
