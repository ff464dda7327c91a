"""`ailawyer dev`: the whole system on one machine, supervised until Ctrl-C.

Children run in their own sessions, so Ctrl-C reaches only this supervisor, which then
stops them in order: app and worker first (they may still need Redis), Redis last. Their
stdout is this terminal, so they print readable lines (LOG_STDOUT_FORMAT=console) unless
the person chose otherwise; their log files stay JSON.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from ailawyer.config import Environment, Settings, get_settings
from ailawyer.domain.demo import DEMO_USERS, DemoLogin, create_demo_data

POLL_SECONDS = 0.5


async def seed_demo(settings: Settings) -> list[DemoLogin]:
    """Create demo data on an empty database; returns the new logins (empty if none)."""
    from ailawyer.db.session import Database

    database = Database(settings.effective_database_url)
    try:
        async with database.session() as session:
            logins = await create_demo_data(session)
            await session.commit()
            return logins
    finally:
        await database.dispose()


async def existing_demo_emails(settings: Settings) -> list[str]:
    """The demo users' e-mail addresses that exist in the database, in DEMO_USERS' order."""
    from sqlalchemy import select

    from ailawyer.db.models import User
    from ailawyer.db.session import Database

    emails = [email for _role, email, _name in DEMO_USERS]
    database = Database(settings.effective_database_url)
    try:
        async with database.session() as session:
            found = set(
                (await session.scalars(select(User.email).where(User.email.in_(emails)))).all()
            )
    finally:
        await database.dispose()
    return [email for email in emails if email in found]


def _print_logins(logins: list[DemoLogin]) -> None:
    click.secho("\nDemo-Zugänge (nur jetzt angezeigt – bitte notieren):", bold=True)
    for login in logins:
        click.echo(f"  {login.role.value:<15} {login.email:<32} {login.password}")
    click.echo("")


def _print_existing(demo_emails: list[str]) -> None:
    """A later start: the passwords were shown once; say how to set a new one."""
    command = f"{_ailawyer_command()} user set-password --email"
    if demo_emails:
        click.secho("\nDemodaten sind bereits vorhanden.", bold=True)
        click.echo("Die Passwörter wurden nur beim ersten Start angezeigt. Neues Passwort setzen:")
        click.echo(f"  {command} {demo_emails[0]}")
        click.echo(f"Demo-Zugänge: {', '.join(demo_emails)}\n")
    else:
        click.secho("\nEs gibt bereits Benutzer; keine Demodaten angelegt.", bold=True)
        click.echo(f"Passwort vergessen? {command} <E-Mail-Adresse>")
        click.echo(f"Alle Benutzer: {_ailawyer_command()} user list\n")


def _ailawyer_command() -> str:
    """How to run `ailawyer` from this terminal: through uv when `uv run` started us
    (uv names itself in UV), so the printed line can be pasted as it is."""
    uv = os.environ.get("UV")
    if not uv:
        return "ailawyer"
    path = Path(uv)
    if path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    return f"{path} run ailawyer"


def _spawn(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ailawyer", command], env=env, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def run_dev() -> int:
    """Start Redis (if needed), migrate, seed, run app + worker; returns the exit code."""
    import asyncio

    from ailawyer.app.assets import assets_missing, build_assets
    from ailawyer.db.migrate import upgrade
    from ailawyer.embedded_redis import RedisServer

    os.environ.setdefault("ENVIRONMENT", Environment.DEVELOPMENT.value)
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ENVIRONMENT": settings.environment.value}
    if "log_stdout_format" not in settings.model_fields_set:
        env["LOG_STDOUT_FORMAT"] = "console"

    redis: RedisServer | None = None
    if not settings.redis_url:
        redis = RedisServer(data_dir=Path(settings.data_dir) / "redis")
        redis.start()
        env["REDIS_URL"] = redis.url
        click.echo(f"Eingebettetes Redis läuft: {redis.url} (Daten in {redis.data_dir})")
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        if assets_missing():
            build_assets()
        upgrade(settings.effective_database_url)
        if logins := asyncio.run(seed_demo(settings)):
            _print_logins(logins)
        else:
            _print_existing(asyncio.run(existing_demo_emails(settings)))
        children = [_spawn("serve", env), _spawn("worker", env)]
        click.echo(
            f"AI-Lawyer läuft auf http://{settings.host}:{settings.port} – Beenden mit Strg+C"
        )
        while not stopping:
            time.sleep(POLL_SECONDS)
            if redis is not None and not redis.is_running():
                click.echo("Redis wurde beendet – starte neu …", err=True)
                redis.start()
            if any(child.poll() is not None for child in children):
                click.echo("Ein Prozess wurde unerwartet beendet – fahre herunter.", err=True)
                exit_code = 1
                break
    finally:
        for child in children:
            _stop(child, settings.shutdown_grace_seconds + 5)
        if redis is not None:
            redis.stop()
    click.echo("Beendet.")
    return exit_code
