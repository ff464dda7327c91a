"""SQLite: a copy made with SQLite's online backup API, and the same API back.

`Connection.backup` copies all pages in one step under one read transaction, so the copy
is one consistent state while app and worker keep writing (WAL). The copy is switched to
a rollback journal so that the backup is one self-contained file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from ailawyer.backup.errors import BackupError
from ailawyer.backup.snapshot import DatabaseDump, read_snapshot

COPY_NAME = "database.sqlite3"
# As long as the app's own connections wait for a lock (ailawyer.db.session).
BUSY_TIMEOUT_SECONDS = 30


def database_path(url: str) -> Path:
    """The file of a `sqlite…:///path` URL."""
    return Path(make_url(url).database or "")


async def dump(url: str, directory: Path) -> DatabaseDump:
    """Copy the database into `directory` and read the Dokumente of the copy."""
    return await asyncio.to_thread(_dump, database_path(url), directory / COPY_NAME)


def _dump(source_path: Path, target: Path) -> DatabaseDump:
    if not source_path.is_file():
        # sqlite3.connect would create an empty database there.
        raise BackupError(f"Die Datenbankdatei {source_path} gibt es nicht.")
    with (
        closing(sqlite3.connect(source_path, timeout=BUSY_TIMEOUT_SECONDS)) as source,
        closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as connection:
            snapshot = read_snapshot(connection)
    finally:
        engine.dispose()
    return DatabaseDump(
        file=target, snapshot=snapshot, server_version=sqlite3.sqlite_version, tool_version=None
    )


async def restore(url: str, copy: Path) -> None:
    """Replace the whole database of `url` with the copy (the file is created if missing)."""
    await asyncio.to_thread(_restore, copy, database_path(url))


def _restore(copy_path: Path, target_path: Path) -> None:
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"{copy_path.resolve().as_uri()}?mode=ro", uri=True)) as copy,
        closing(sqlite3.connect(target_path, timeout=BUSY_TIMEOUT_SECONDS)) as target,
    ):
        copy.backup(target)
