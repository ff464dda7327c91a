"""Notifications created the way the product creates them: staged on a transaction of
their own, stored and then sent by its `outbox.commit` (docs/ARCHITECTURE.md, "How an
event travels from a worker to a browser")."""

from __future__ import annotations

from typing import Any

from ailawyer.db.session import Database
from ailawyer.domain.roles import Role
from ailawyer.notifications.service import NotificationOut, NotificationService
from ailawyer.realtime import outbox


async def notify(
    db: Database, notifications: NotificationService, user_id: int, **content: Any
) -> NotificationOut:
    """One notification for one user (`content`: `stage_user`'s keywords)."""
    async with db.session() as session:
        row = await notifications.stage_user(session, user_id, **content)
        await outbox.commit(session)
    return NotificationOut.from_row(row)


async def notify_role(
    db: Database, notifications: NotificationService, kanzlei_id: int, role: Role, **content: Any
) -> list[NotificationOut]:
    """One notification for every active user with `role` in one Kanzlei."""
    async with db.session() as session:
        stored = await notifications.stage_role(session, kanzlei_id, role, **content)
        await outbox.commit(session)
    return list(stored.values())
