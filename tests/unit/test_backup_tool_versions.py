"""Which pg_dump / pg_restore fit which PostgreSQL server (ailawyer.backup.postgres)."""

from __future__ import annotations

from ailawyer.backup.postgres import client_environment, dump_tool_problem, restore_tool_problem


def test_pg_dump_may_be_newer_than_the_server_but_not_older() -> None:
    assert dump_tool_problem("15.20", "15.4") is None
    assert dump_tool_problem("17.2", "16.1") is None
    problem = dump_tool_problem("15.20", "16.3")
    assert problem is not None
    assert "älter als der Datenbankserver (PostgreSQL 16.3)" in problem
    assert "postgresql-client-16" in problem


def test_pg_restore_must_match_the_server_and_read_the_archive() -> None:
    assert restore_tool_problem("16.1", "16.4", dumped_with="15.20") is None
    assert restore_tool_problem("16.1", "16.4", dumped_with="16.9") is None
    newer_tool = restore_tool_problem("17.0", "16.4", dumped_with="16.4")
    assert newer_tool is not None
    assert "passt nicht zum Datenbankserver (PostgreSQL 16.4)" in newer_tool
    newer_archive = restore_tool_problem("15.20", "15.20", dumped_with="16.2")
    assert newer_archive is not None
    assert "mit pg_dump 16.2 geschrieben" in newer_archive


def test_the_connection_goes_to_the_tools_as_libpq_variables() -> None:
    env = client_environment(
        "postgresql+asyncpg://kanzlei:ge%40heim@db.example:5433/ailawyer?ssl=require"
    )

    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"]) == ("db.example", "5433", "kanzlei")
    assert (env["PGPASSWORD"], env["PGDATABASE"]) == ("ge@heim", "ailawyer")
    assert env["PGSSLMODE"] == "require"
