"""Whether the installation a restore would write into is empty: no rows in the database,
no uploaded files, no Dokument jobs in Redis. A restore never merges into existing data."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, literal, select

from ailawyer.backup import sqlite
from ailawyer.backup.database import database_kind
from ailawyer.backup.files import first_file
from ailawyer.config import Settings
from ailawyer.db.models import Base
from ailawyer.db.session import create_engine
from ailawyer.jobs.bullmq_adapter import read_counts
from ailawyer.jobs.catalog import DOKUMENTE
from ailawyer.services import Services


async def tables_with_rows(url: str) -> list[str]:
    """The tables of this schema that hold at least one row (the migration record aside)."""
    if database_kind(url) == "sqlite" and not sqlite.database_path(url).exists():
        return []
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            existing = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
            filled = []
            for table in Base.metadata.sorted_tables:
                if table.name not in existing:
                    continue
                if (
                    await connection.execute(select(literal(1)).select_from(table).limit(1))
                ).first():
                    filled.append(table.name)
            return filled
    finally:
        await engine.dispose()


async def what_is_there(settings: Settings) -> list[str]:
    """Why the installation is not empty, in German; empty when it is."""
    reasons = []
    if filled := await tables_with_rows(settings.effective_database_url):
        reasons.append(f"Die Datenbank enthält Daten (Tabellen: {', '.join(filled)}).")
    if found := await asyncio.to_thread(first_file, settings.upload_dir):
        reasons.append(f"Das Upload-Verzeichnis {settings.upload_dir} enthält Dateien ({found}).")
    return reasons


async def dokument_jobs(services: Services) -> int:
    """How many jobs the Dokumente queue holds in any state.

    Jobs of an earlier installation under the same key prefix would collide with the job
    ids (`dokument-<id>`) of Dokumente uploaded after the restore, and those would never run.
    """
    counts = await read_counts(services.jobs.queue(DOKUMENTE.name))
    return sum(counts.counts.values())
