"""What a backup reads from its database snapshot besides the dump: the schema revision,
the rows per table and the files the Dokumente name. Both kinds of database read it with
this one function, inside the snapshot they dump."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, inspect, select

from ailawyer.backup.errors import BackupError
from ailawyer.db.models import Base, Dokument


@dataclass(frozen=True)
class DokumentFile:
    """A Dokument's file as its row describes it."""

    dokument_id: int
    storage_key: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Snapshot:
    schema_revision: str
    tables: dict[str, int]
    dokumente: list[DokumentFile]


@dataclass(frozen=True)
class DatabaseDump:
    """A database written into the backup directory, and what its snapshot holds."""

    file: Path
    snapshot: Snapshot
    server_version: str
    tool_version: str | None


def read_snapshot(connection: Connection) -> Snapshot:
    """Read the snapshot's revision, row counts and Dokument files over `connection`."""
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None:
        raise BackupError(
            "Die Datenbank hat noch kein Schema; zuerst `ailawyer db upgrade` ausführen."
        )
    existing = set(inspect(connection).get_table_names())
    tables = {
        table.name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
        if table.name in existing
    }
    rows = connection.execute(
        select(Dokument.id, Dokument.storage_key, Dokument.size_bytes, Dokument.sha256).order_by(
            Dokument.id
        )
    )
    return Snapshot(
        schema_revision=revision,
        tables=tables,
        dokumente=[DokumentFile(*row) for row in rows],
    )
