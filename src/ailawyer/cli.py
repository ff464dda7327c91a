"""The `ailawyer` command: serve, worker, healthcheck, dev, db, user, demo, assets, backup."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from ailawyer.config import ConfigurationError, Settings, get_settings
from ailawyer.domain.audit import AuditAction
from ailawyer.domain.roles import Role

T = TypeVar("T")


def load_settings() -> Settings:
    """Settings, or a clear message and exit code 2 when they are invalid."""
    try:
        return get_settings()
    except ConfigurationError as error:
        click.echo(f"Konfigurationsfehler: {error}", err=True)
        sys.exit(2)


def start_logging(kind: str, settings: Settings) -> None:
    from ailawyer.logs import configure_logging

    configure_logging(
        kind,
        level=settings.log_level,
        log_dir=settings.effective_log_dir,
        max_bytes=settings.log_max_bytes,
        backup_count=settings.log_backup_count,
        console=settings.log_stdout_format == "console",
        level_pinned=settings.log_level_pinned,
    )


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    import uvloop

    return uvloop.run(factory())


@click.group()
@click.version_option(package_name="ailawyer")
def main() -> None:
    """AI-Lawyer: the foundation of a self-hosted law-firm platform."""


@main.command()
@click.option("--host", default=None, help="Address to bind (default: HOST).")
@click.option("--port", default=None, type=int, help="Port to bind (default: PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the web app (pages, APIs and WebSocket on one port)."""
    import uvicorn

    settings = load_settings()
    start_logging("app", settings)
    from ailawyer.app.assets import assets_missing

    if missing := assets_missing():
        click.echo(f"Browser-Dateien fehlen ({', '.join(missing)}): `ailawyer assets`.", err=True)
        sys.exit(2)
    # uvicorn re-raises the stop signal after its graceful shutdown, which would end the
    # process with -SIGTERM; a handler here receives that re-raise so a clean stop exits 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.run(
        "ailawyer.app.asgi:create_asgi_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        # No per-message deflate: the events are small JSON, and each socket's zlib state
        # cost ~45 KiB and the fan-out a compression per recipient (bench/RESULTS.md, 15.2).
        ws_per_message_deflate=False,
        access_log=False,
        log_config=None,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


@main.command()
def worker() -> None:
    """Run a background worker until SIGTERM/SIGINT."""
    from ailawyer.worker.main import run_worker

    settings = load_settings()
    start_logging("worker", settings)
    run_async(lambda: run_worker(settings))


@main.group()
def healthcheck() -> None:
    """Exit codes for container healthchecks (0 = healthy)."""


@healthcheck.command("worker")
def healthcheck_worker() -> None:
    """Exit 0 when a worker process of this container sent a fresh heartbeat, else 1."""
    from ailawyer.worker.healthcheck import describe, fresh_local_worker

    settings = load_settings()
    try:
        record = asyncio.run(fresh_local_worker(settings))
    except Exception as error:  # Redis away or REDIS_URL missing: no heartbeat can be seen
        click.echo(f"Herzschlag nicht lesbar: {error!r}", err=True)
        sys.exit(1)
    click.echo(describe(record), err=record is None)
    sys.exit(0 if record else 1)


@main.command()
def dev() -> None:
    """Everything on one machine: Redis, migrations, demo data, app and worker, until Ctrl-C."""
    from ailawyer.devserver import run_dev

    sys.exit(run_dev())


@main.command()
def assets() -> None:
    """Build the browser assets (from the npm registry) into the static folder."""
    from ailawyer.app.assets import build_assets

    path = build_assets(force=True)
    click.echo(f"Browser-Dateien erstellt in {path}")


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (default: all)."""
    from ailawyer.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.effective_database_url, revision)
    click.echo("Datenbank ist auf dem neuesten Stand.")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ("base" reverts all)."""
    from ailawyer.db.migrate import downgrade

    downgrade(load_settings().effective_database_url, revision)


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from ailawyer.db.migrate import current

    current(load_settings().effective_database_url)


@db.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Generate a migration from model changes (developers)."""
    from ailawyer.db.migrate import revision

    revision(load_settings().effective_database_url, message)


@main.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--kanzlei", "kanzlei_name", required=True, help="Created if it does not exist.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--operator", is_flag=True, help="Make the user the installation's operator.")
def user_create(
    email: str, name: str, role: str, kanzlei_name: str, password_stdin: bool, operator: bool
) -> None:
    """Create a user (prompts for the password)."""
    from ailawyer.domain.audit import record_command_line_audit
    from ailawyer.domain.users import UserError, create_user

    password = _read_password(password_stdin)
    settings = load_settings()

    async def create() -> int:
        from ailawyer.db.session import Database

        database = Database(settings.effective_database_url)
        try:
            async with database.session() as session:
                created = await create_user(
                    session,
                    email=email,
                    name=name,
                    role=Role(role),
                    password=password,
                    kanzlei_name=kanzlei_name,
                    is_operator=operator,
                )
                record_command_line_audit(
                    session,
                    user=created,
                    action=AuditAction.USER_CREATE,
                    details={"Rolle": created.role.label, "Betreiber": operator},
                )
                await session.commit()
                return created.id
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(create())
    except UserError as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    click.echo(f"Benutzer {email} angelegt (ID {user_id}).")


@user.command("list")
def user_list() -> None:
    """List all users."""
    from sqlalchemy import select

    from ailawyer.db.models import User
    from ailawyer.db.session import Database

    settings = load_settings()

    async def rows() -> list[User]:
        database = Database(settings.effective_database_url)
        try:
            async with database.session() as session:
                return list((await session.scalars(select(User).order_by(User.id))).all())
        finally:
            await database.dispose()

    for row in asyncio.run(rows()):
        state = "aktiv" if row.aktiv else "deaktiviert"
        operator = "Betreiber" if row.is_operator else "-"
        click.echo(
            f"{row.id}\t{row.email}\t{row.name}\t{row.role.value}\t{row.kanzlei.name}"
            f"\t{state}\t{operator}"
        )


@user.command("set-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True)
def user_set_password(email: str, password_stdin: bool) -> None:
    """Set a new password and end the user's sessions."""
    _update_user(email, AuditAction.USER_SET_PASSWORD, password=_read_password(password_stdin))


@user.command("deactivate")
@click.option("--email", required=True)
def user_deactivate(email: str) -> None:
    """Deactivate a user and end their sessions at once."""
    _update_user(email, AuditAction.USER_DEACTIVATE, aktiv=False)


@user.command("activate")
@click.option("--email", required=True)
def user_activate(email: str) -> None:
    """Allow a deactivated user to log in again."""
    _update_user(email, AuditAction.USER_ACTIVATE, aktiv=True)


@user.command("grant-operator")
@click.option("--email", required=True)
def user_grant_operator(email: str) -> None:
    """Make a user the installation's operator (system, logs, settings, every Kanzlei's jobs)."""
    _update_user(email, AuditAction.USER_GRANT_OPERATOR, is_operator=True)


@user.command("revoke-operator")
@click.option("--email", required=True)
def user_revoke_operator(email: str) -> None:
    """Take the operator's rights from a user; their sessions end so no page keeps them."""
    _update_user(email, AuditAction.USER_REVOKE_OPERATOR, is_operator=False)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")


def _update_user(
    email: str,
    action: AuditAction,
    *,
    password: str | None = None,
    aktiv: bool | None = None,
    is_operator: bool | None = None,
) -> None:
    """Change one user from the command line, audit it in their Kanzlei, end their sessions
    where the change takes something away."""
    from ailawyer.db.session import Database
    from ailawyer.domain.audit import record_command_line_audit
    from ailawyer.domain.passwords import hash_password, password_problem
    from ailawyer.domain.users import get_user_by_email
    from ailawyer.services import Services

    settings = load_settings()
    if password is not None and (problem := password_problem(password)):
        click.echo(problem, err=True)
        sys.exit(1)

    async def update() -> int | None:
        database = Database(settings.effective_database_url)
        try:
            async with database.session() as session:
                found = await get_user_by_email(session, email)
                if found is None:
                    return None
                if password is not None:
                    found.password_hash = hash_password(password)
                if aktiv is not None:
                    found.aktiv = aktiv
                if is_operator is not None:
                    found.is_operator = is_operator
                record_command_line_audit(session, user=found, action=action, details={})
                await session.commit()
                return found.id
        finally:
            await database.dispose()

    async def end_sessions(user_id: int) -> None:
        services = Services.create(settings)
        try:
            await services.sessions.end_all_for_user(user_id, reason="account-changed")
        finally:
            await services.close()

    user_id = asyncio.run(update())
    if user_id is None:
        click.echo(f"Kein Benutzer mit der E-Mail-Adresse {email}.", err=True)
        sys.exit(1)
    # Without REDIS_URL the sessions are out of reach from here; a deactivated user is
    # still refused at the next request, as every request reloads the user from the database.
    takes_away = password is not None or aktiv is False or is_operator is False
    if takes_away and settings.redis_url:
        asyncio.run(end_sessions(user_id))
    click.echo("Gespeichert.")


@main.command()
def demo() -> None:
    """Create the demo Kanzlei, users and Akten if the database has no users yet."""
    from ailawyer.devserver import seed_demo

    settings = load_settings()
    logins = asyncio.run(seed_demo(settings))
    if not logins:
        click.echo("Es gibt bereits Benutzer; keine Demodaten angelegt.")
    for login in logins:
        click.echo(f"{login.role.value:<15} {login.email:<32} {login.password}")


@main.group()
def backup() -> None:
    """Back up and restore the installation: database, uploaded files, manifest."""


@backup.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_create(directory: Path) -> None:
    """Write a backup into DIRECTORY (new or empty); safe while app and worker run."""
    from ailawyer.backup.create import create_backup
    from ailawyer.backup.errors import BackupError
    from ailawyer.backup.report import backup_lines

    settings = load_settings()
    try:
        result = asyncio.run(create_backup(settings, directory))
    except BackupError as error:
        click.echo(f"Sicherung fehlgeschlagen: {error}", err=True)
        sys.exit(1)
    for warning in result.warnings:
        click.echo(f"Warnung: {warning}", err=True)
    click.echo("\n".join(backup_lines(result, str(directory))))


@backup.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def backup_restore(directory: Path) -> None:
    """Restore the backup in DIRECTORY into this installation, which must be empty."""
    from ailawyer.backup.errors import BackupError
    from ailawyer.backup.report import restore_lines
    from ailawyer.backup.restore import restore_backup

    settings = load_settings()
    try:
        result = asyncio.run(restore_backup(settings, directory))
    except BackupError as error:
        click.echo(f"Wiederherstellung abgebrochen: {error}", err=True)
        sys.exit(1)
    click.echo("\n".join(restore_lines(result, str(directory))))
