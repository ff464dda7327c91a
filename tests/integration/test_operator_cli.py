"""The installation's operator is made and unmade on the command line only, and audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from tests.conftest import process_env
from tests.integration.test_cli import ailawyer
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.personas import build_admin, build_operator

from ailawyer.config import Settings
from ailawyer.db.models import AuditLog, User
from ailawyer.domain.demo import create_demo_data
from ailawyer.domain.roles import Role
from ailawyer.services import Services


async def test_user_create_with_operator_is_listed_as_betreiber_and_reaches_the_system_page(
    settings: Settings, services: Services, live_server: str
) -> None:
    env = process_env(settings)
    args = ["user", "create", "--email", "betrieb@it.example", "--name", "Otto Betrieb"]
    args += ["--role", "ADMIN", "--kanzlei", "IT-Dienstleister", "--password-stdin", "--operator"]

    created = ailawyer(args, env, stdin="ein-langes-passwort\n")

    assert created.returncode == 0, created.stderr
    listing = ailawyer(["user", "list"], env).stdout
    assert "betrieb@it.example\tOtto Betrieb\tADMIN\tIT-Dienstleister\taktiv\tBetreiber" in listing
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, "betrieb@it.example", "ein-langes-passwort")
        assert (await client.get("/admin/system")).status_code == 200


async def test_grant_and_revoke_operator_change_what_an_admin_may_enter(
    settings: Settings, services: Services, factory: Factory, live_server: str
) -> None:
    admin = await build_admin(factory)
    env = process_env(settings)
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, admin.email)
        assert (await client.get("/admin/system")).status_code == 403
        assert "Betreiber" not in ailawyer(["user", "list"], env).stdout.split(admin.email)[1]

        granted = ailawyer(["user", "grant-operator", "--email", admin.email], env)

        assert granted.returncode == 0, granted.stderr
        assert (await client.get("/admin/system")).status_code == 200

        revoked = ailawyer(["user", "revoke-operator", "--email", admin.email], env)

        assert revoked.returncode == 0, revoked.stderr
        # Taking a right away ends the sessions that had it.
        assert (await client.get("/admin/system")).status_code in (302, 303)
        await login(client, admin.email)
        assert (await client.get("/admin/system")).status_code == 403


async def test_operator_changes_from_the_command_line_appear_in_the_users_kanzlei_audit_log(
    settings: Settings, services: Services, factory: Factory, live_server: str
) -> None:
    kanzlei = await factory.kanzlei()
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    anwalt = await factory.user(Role.ANWALT, kanzlei=kanzlei)
    env = process_env(settings)

    assert ailawyer(["user", "grant-operator", "--email", anwalt.email], env).returncode == 0
    assert ailawyer(["user", "deactivate", "--email", anwalt.email], env).returncode == 0

    async with services.db.session() as db:
        rows = (
            await db.scalars(
                select(AuditLog).where(AuditLog.target_id == str(anwalt.id)).order_by(AuditLog.id)
            )
        ).all()
    assert [(row.action, row.kanzlei_id, row.user_id) for row in rows] == [
        ("user.grant_operator", kanzlei.id, None),
        ("user.deactivate", kanzlei.id, None),
    ]
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, admin.email)
        page = (await client.get("/admin/audit")).text
    assert "Betreiberrecht erteilt" in page
    assert "Betreiber (Kommandozeile)" in page


async def test_a_kanzlei_admin_does_not_read_the_operators_installation_wide_entries(
    services: Services, factory: Factory, live_server: str
) -> None:
    operator = await build_operator(factory)
    other_admin = await build_admin(factory)
    async with services.db.session() as db:
        db.add(
            AuditLog(
                kanzlei_id=None,
                user_id=operator.id,
                action="setting.change",
                target_type="setting",
                target_id="maintenance_banner",
                details={"neu": "Wartung heute Abend"},
            )
        )
        await db.commit()

    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, other_admin.email)
        assert "Wartung heute Abend" not in (await client.get("/admin/audit")).text
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, operator.email)
        page = (await client.get("/admin/audit")).text
    assert "Wartung heute Abend" in page
    assert "Ganze Installation" in page


async def test_the_demo_admin_is_the_operator(isolated_services: Services) -> None:
    async with isolated_services.db.session() as db:
        await create_demo_data(db)
        await db.commit()
        users = (await db.scalars(select(User))).all()

    assert {user.role for user in users if user.is_operator} == {Role.ADMIN}
