"""PostgreSQL: `pg_dump` (custom format) inside a snapshot this process exports, and
`pg_restore` into an empty database.

The backup opens a REPEATABLE READ transaction, exports its snapshot and reads the
Dokumente in it; pg_dump then dumps exactly that snapshot (`--snapshot`), so the list of
files to copy is the list of Dokumente in the dump, however many uploads arrive meanwhile.

Versions: pg_dump refuses a server newer than itself; pg_restore cannot read an archive of
a newer pg_dump, and a newer pg_restore may send settings an older server does not know.
So a backup needs pg_dump at least the server's major version, a restore pg_restore of the
target server's major version and not older than the pg_dump that wrote the archive.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ailawyer.backup.errors import BackupError
from ailawyer.backup.snapshot import DatabaseDump, read_snapshot
from ailawyer.db.models import Base
from ailawyer.db.session import create_engine

DUMP_NAME = "database.pgdump"
_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)?)")
# libpq's sslmode values; asyncpg's `ssl=` accepts the same words.
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


def client_environment(url: str) -> dict[str, str]:
    """The environment for pg_dump/pg_restore to reach the DATABASE_URL's database (libpq
    variables, so the password never shows on a command line)."""
    parsed = make_url(url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", parsed.host),
        ("PGPORT", parsed.port),
        ("PGUSER", parsed.username),
        ("PGPASSWORD", parsed.password),
        ("PGDATABASE", parsed.database),
    ):
        if value is not None:
            env[name] = str(value)
    ssl = parsed.query.get("sslmode") or parsed.query.get("ssl")
    if isinstance(ssl, str) and ssl in _SSL_MODES:
        env["PGSSLMODE"] = ssl
    return env


def major(version: str) -> int:
    return int(version.split(".", 1)[0])


def tool_version(tool: str) -> str:
    """The version of `tool` on PATH ("15.20"), or a German message how to install it."""
    path = shutil.which(tool)
    if path is None:
        raise BackupError(
            f"{tool} wurde nicht gefunden. Installieren Sie die PostgreSQL-Client-Programme "
            "in der Hauptversion des Datenbankservers (Debian/Ubuntu: Paket "
            f"postgresql-client-<Version>) und sorgen Sie dafür, dass {tool} im PATH liegt."
        )
    output = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    match = _TOOL_VERSION.search(output.stdout)
    if match is None:
        raise BackupError(f"Die Version von {path} ist nicht lesbar: {output.stdout.strip()!r}")
    return match.group(1)


def dump_tool_problem(tool: str, server: str) -> str | None:
    """Why pg_dump `tool` cannot dump a server of version `server`, if it cannot."""
    if major(tool) < major(server):
        return (
            f"pg_dump {tool} ist älter als der Datenbankserver (PostgreSQL {server}) und kann "
            f"ihn nicht sichern. Installieren Sie postgresql-client-{major(server)}."
        )
    return None


def restore_tool_problem(tool: str, server: str, dumped_with: str | None) -> str | None:
    """Why pg_restore `tool` cannot restore an archive of pg_dump `dumped_with` into a server
    of version `server`, if it cannot."""
    if major(tool) != major(server):
        return (
            f"pg_restore {tool} passt nicht zum Datenbankserver (PostgreSQL {server}). "
            f"Installieren Sie postgresql-client-{major(server)}."
        )
    if dumped_with is not None and major(tool) < major(dumped_with):
        return (
            f"Die Sicherung wurde mit pg_dump {dumped_with} geschrieben; pg_restore {tool} "
            f"kann sie nicht lesen. Stellen Sie auf einem Server mit PostgreSQL "
            f"{major(dumped_with)} oder neuer wieder her."
        )
    return None


async def dump(url: str, directory: Path) -> DatabaseDump:
    """Dump the database into `directory` and read the Dokumente of the same snapshot."""
    tool = tool_version("pg_dump")
    target = directory / DUMP_NAME
    engine = create_engine(url)
    try:
        async with engine.connect() as plain:
            connection = await plain.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with connection.begin():
                # The first statement fixes the transaction's snapshot, the one exported.
                snapshot_id = await connection.scalar(text("SELECT pg_export_snapshot()"))
                server = _version_text(await connection.scalar(text("SHOW server_version_num")))
                if problem := dump_tool_problem(tool, server):
                    raise BackupError(problem)
                snapshot = await connection.run_sync(read_snapshot)
                # The exporting transaction stays open until pg_dump has finished.
                await _run(
                    "pg_dump",
                    ["--format=custom", f"--snapshot={snapshot_id}", f"--file={target}"],
                    url,
                )
    finally:
        await engine.dispose()
    return DatabaseDump(file=target, snapshot=snapshot, server_version=server, tool_version=tool)


async def check_restore(url: str, dumped_with: str | None) -> None:
    """Refuse before anything is written when pg_restore does not fit server or archive."""
    tool = tool_version("pg_restore")
    if problem := restore_tool_problem(tool, await server_version(url), dumped_with):
        raise BackupError(problem)


async def server_version(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return _version_text(await connection.scalar(text("SHOW server_version_num")))
    finally:
        await engine.dispose()


async def restore(url: str, archive: Path) -> None:
    """Replace the (empty) tables of this schema with those of the archive, in one transaction."""
    engine = create_engine(url)
    try:
        # A fresh installation was migrated already; its tables are empty (checked before),
        # and the archive brings them back as they were, at the backup's revision.
        async with engine.begin() as connection:
            for name in ["alembic_version", *(t.name for t in Base.metadata.sorted_tables)]:
                await connection.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    finally:
        await engine.dispose()
    database = make_url(url).database or ""
    await _run(
        "pg_restore",
        [
            "--exit-on-error",
            "--single-transaction",
            # Owners and grants of the old installation may not exist here.
            "--no-owner",
            "--no-privileges",
            f"--dbname={database}",
            str(archive),
        ],
        url,
    )


def _version_text(server_version_num: object) -> str:
    number = int(str(server_version_num))
    return f"{number // 10000}.{number % 10000}"


async def _run(tool: str, arguments: list[str], url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        tool,
        "--no-password",
        *arguments,
        env=client_environment(url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        raise BackupError(
            f"{tool} ist fehlgeschlagen (Exit-Code {process.returncode}): "
            f"{stderr.decode(errors='replace').strip()}"
        )
