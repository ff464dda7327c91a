"""The audit log: `record_audit` stores who did what to which target; `/admin/audit` lists it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from tests.support.factories import Factory
from tests.support.http import login
from tests.support.personas import build_admin

from ailawyer.db.models import AuditLog, User
from ailawyer.domain.audit import AuditAction, AuditTarget, record_audit
from ailawyer.domain.roles import Role
from ailawyer.services import Services

ROW = re.compile(r'<tr id="audit-\d+" data-action="([^"]+)">(.*?)</tr>', re.DOTALL)


async def record(
    services: Services,
    user: User,
    action: AuditAction,
    target_id: str,
    *,
    at: datetime | None = None,
    **details: object,
) -> None:
    async with services.db.session() as db:
        entry = await record_audit(
            db,
            user=user,
            action=action,
            target_type=AuditTarget.JOB if action.value.startswith("job") else AuditTarget.QUEUE,
            target_id=target_id,
            details=details,
            ip="203.0.113.7",
        )
        if at is not None:
            entry.created_at = at
        await db.commit()


async def audit_page(live_server: str, admin: User, **params: object) -> str:
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as client:
        await login(client, admin.email)
        response = await client.get("/admin/audit", params=params)
    assert response.status_code == 200
    return response.text


async def test_record_audit_stores_who_what_target_details_and_ip(
    services: Services, factory: Factory
) -> None:
    admin = await build_admin(factory)

    await record(services, admin, AuditAction.JOB_RETRY, "dokumente/17", queue="dokumente")

    async with services.db.session() as db:
        (entry,) = (await db.scalars(select(AuditLog))).all()
    assert (entry.kanzlei_id, entry.user_id, entry.action) == (
        admin.kanzlei_id,
        admin.id,
        "job.retry",
    )
    assert (entry.target_type, entry.target_id) == ("job", "dokumente/17")
    assert (entry.details, entry.ip) == ({"queue": "dokumente"}, "203.0.113.7")
    assert abs(entry.created_at - datetime.now(UTC)) < timedelta(seconds=10)


async def test_an_undeclared_action_is_refused_before_anything_is_stored(
    services: Services, factory: Factory
) -> None:
    admin = await build_admin(factory)
    async with services.db.session() as db:
        with pytest.raises(ValueError):
            await record_audit(
                db,
                user=admin,
                action="job.explode",  # type: ignore[arg-type]
                target_type=AuditTarget.JOB,
                target_id="1",
                ip=None,
            )
        assert not db.new


async def test_the_page_lists_entries_newest_first_in_german(
    live_server: str, services: Services, factory: Factory
) -> None:
    admin = await factory.user(Role.ADMIN, name="Anna Admin")
    now = datetime.now(UTC)
    await record(services, admin, AuditAction.QUEUE_PAUSE, "test", at=now - timedelta(minutes=5))
    await record(
        services, admin, AuditAction.SETTING_CHANGE, "log_level", old="INFO", new="<b>DEBUG</b>"
    )

    page = await audit_page(live_server, admin)

    rows = ROW.findall(page)
    assert [action for action, _ in rows] == ["setting.change", "queue.pause"]
    newest = rows[0][1]
    assert "Anna Admin" in newest and "Einstellung geändert" in newest
    assert "log_level" in newest and "203.0.113.7" in newest
    assert "&lt;b&gt;DEBUG&lt;/b&gt;" in newest and "<b>DEBUG" not in newest
    assert "Warteschlange angehalten" in rows[1][1]


async def test_it_filters_by_action_and_user_and_pages(
    live_server: str, services: Services, factory: Factory
) -> None:
    kanzlei = await factory.kanzlei()
    admin = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    colleague = await factory.user(Role.ADMIN, kanzlei=kanzlei)
    start = datetime.now(UTC) - timedelta(hours=1)
    for number in range(55):
        await record(
            services,
            admin,
            AuditAction.JOB_REMOVE,
            f"test/{number}",
            at=start + timedelta(seconds=number),
        )
    await record(services, colleague, AuditAction.QUEUE_RESUME, "test")

    first = await audit_page(live_server, admin)
    second = await audit_page(live_server, admin, seite=2)
    by_action = await audit_page(live_server, admin, aktion="queue.resume")
    by_user = await audit_page(live_server, admin, benutzer=colleague.id)

    assert len(ROW.findall(first)) == 50 and "Seite 1 von 2" in first
    assert len(ROW.findall(second)) == 6 and "test/0" in second
    assert [a for a, _ in ROW.findall(by_action)] == ["queue.resume"]
    assert [a for a, _ in ROW.findall(by_user)] == ["queue.resume"]
    assert "Seite" not in by_action


async def test_entries_of_another_kanzlei_are_not_shown(
    live_server: str, services: Services, factory: Factory
) -> None:
    admin = await build_admin(factory)
    stranger = await build_admin(factory)  # a new Kanzlei of its own
    await record(services, stranger, AuditAction.QUEUE_CLEAN, "fremd")

    page = await audit_page(live_server, admin)

    assert ROW.findall(page) == [] and "Noch keine Einträge." in page
