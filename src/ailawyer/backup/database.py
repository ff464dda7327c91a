"""The database part of a backup, by the kind of DATABASE_URL: PostgreSQL or SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ailawyer.backup import postgres, sqlite
from ailawyer.backup.errors import BackupError
from ailawyer.backup.manifest import DatabaseEntry
from ailawyer.backup.snapshot import DatabaseDump

DatabaseKind = Literal["postgresql", "sqlite"]
KIND_LABELS: dict[DatabaseKind, str] = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def database_kind(url: str) -> DatabaseKind:
    """Which kind of database `url` (an effective, normalised DATABASE_URL) names."""
    if url.startswith("postgresql"):
        return "postgresql"
    if url.startswith("sqlite"):
        return "sqlite"
    raise BackupError(f"Sicherung für diese Datenbank nicht möglich: {url.split(':', 1)[0]}")


async def dump(url: str, directory: Path) -> DatabaseDump:
    """One consistent snapshot of the database, written into `directory`."""
    if database_kind(url) == "postgresql":
        return await postgres.dump(url, directory)
    return await sqlite.dump(url, directory)


async def check_restore(url: str, entry: DatabaseEntry) -> None:
    """Refuse, before anything is written, what this installation cannot restore."""
    kind = database_kind(url)
    if entry.kind != kind:
        raise BackupError(
            f"Die Sicherung enthält eine {KIND_LABELS[entry.kind]}-Datenbank, diese "
            f"Installation nutzt {KIND_LABELS[kind]}."
        )
    if kind == "postgresql":
        await postgres.check_restore(url, entry.tool_version)


async def restore(url: str, entry: DatabaseEntry, file: Path) -> None:
    """Write the backed-up database into the (empty) database of `url`."""
    if entry.kind == "postgresql":
        await postgres.restore(url, file)
    else:
        await sqlite.restore(url, file)
