"""The `ailawyer` command as operators and scripts use it."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from tests.conftest import process_env
from tests.support.factories import Factory
from tests.support.http import login

from ailawyer.config import Settings
from ailawyer.services import Services


def ailawyer(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ailawyer", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_user_create_reads_the_password_from_stdin_and_creates_the_kanzlei(
    settings: Settings, services: Services, live_server: str
) -> None:
    env = process_env(settings)
    args = ["user", "create", "--email", "Neu@Kanzlei.example", "--name", "Nina Neu"]
    args += ["--role", "ANWALT", "--kanzlei", "Kanzlei Neu", "--password-stdin"]

    created = ailawyer(args, env, stdin="ein-langes-passwort\n")

    assert created.returncode == 0, created.stderr
    listing = ailawyer(["user", "list"], env)
    assert "neu@kanzlei.example\tNina Neu\tANWALT\tKanzlei Neu\taktiv" in listing.stdout
    async with httpx.AsyncClient(base_url=live_server) as client:
        response = await login(client, "neu@kanzlei.example", "ein-langes-passwort")
        assert response.status_code == 302


async def test_user_create_refuses_a_duplicate_and_a_short_password_in_german(
    settings: Settings, services: Services, factory: Factory
) -> None:
    existing = await factory.user()
    env = process_env(settings)
    base = ["user", "create", "--name", "X", "--role", "ADMIN", "--kanzlei", "K"]

    duplicate = ailawyer([*base, "--email", existing.email, "--password-stdin"], env, "a" * 12)
    short = ailawyer([*base, "--email", "kurz@test.example", "--password-stdin"], env, "kurz")

    assert duplicate.returncode == 1
    assert "Es gibt bereits einen Benutzer" in duplicate.stderr
    assert short.returncode == 1
    assert "mindestens 10 Zeichen" in short.stderr


async def test_deactivating_a_user_ends_their_open_session(
    settings: Settings, services: Services, factory: Factory, client: httpx.AsyncClient
) -> None:
    user = await factory.user()
    await login(client, user.email)
    assert (await client.get("/")).status_code == 200

    result = ailawyer(["user", "deactivate", "--email", user.email], process_env(settings))

    assert result.returncode == 0, result.stderr
    assert await services.redis.scard(f"{services.sessions.prefix}:user-sessions:{user.id}") == 0
    assert (await client.get("/")).status_code == 302


def test_production_without_a_secret_key_stops_with_a_clear_message() -> None:
    env = {key: value for key, value in os.environ.items() if not key.isupper() or key == "PATH"}
    env.update(ENVIRONMENT="production", DATABASE_URL="sqlite:///x.db", REDIS_URL="redis://x")

    result = ailawyer(["serve"], env)

    assert result.returncode == 2
    assert "Konfigurationsfehler" in result.stderr
    assert "SECRET_KEY" in result.stderr
