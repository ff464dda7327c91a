"""The audit log: every admin action that changes something, recorded once, listed per Kanzlei.

How to record an action (job explorer, settings page, ...)::

    from ailawyer.app.web.client_address import client_address
    from ailawyer.domain.audit import AuditAction, AuditTarget, record_audit

    async with services.db.session() as db:
        await record_audit(
            db,
            user=request.user,
            action=AuditAction.JOB_RETRY,
            target_type=AuditTarget.JOB,
            target_id=f"{queue}/{job_id}",
            details={"queue": queue},
            ip=client_address(request.scope, services.settings.trusted_proxies),
        )
        await db.commit()

`record_audit` only adds the row to the session: when the action changes the database,
commit both in one transaction; when it changes Redis (a job, a queue), commit right
after the change succeeded. A new kind of action is added to `AuditAction` with its
German label (the audit page shows and filters by it); details hold ids and values,
never personal data beyond what the action itself concerns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import AuditLog, Kanzlei, User
from ailawyer.domain.access import Principal


class AuditAction(StrEnum):
    """Every action the audit log knows, stored by its value."""

    JOB_RETRY = "job.retry"
    JOB_REMOVE = "job.remove"
    JOB_PROMOTE = "job.promote"
    JOB_TEST_START = "job.test_start"
    JOB_ADD = "job.add"
    JOB_DUPLICATE = "job.duplicate"
    JOB_CHANGE_DATA = "job.change_data"
    JOB_RERUN = "job.rerun"
    QUEUE_RETRY_FAILED = "queue.retry_failed"
    QUEUE_CLEAN = "queue.clean"
    QUEUE_PAUSE = "queue.pause"
    QUEUE_RESUME = "queue.resume"
    QUEUE_PROMOTE_ALL = "queue.promote_all"
    QUEUE_PAUSE_ALL = "queue.pause_all"
    QUEUE_RESUME_ALL = "queue.resume_all"
    QUEUE_OBLITERATE = "queue.obliterate"
    SCHEDULER_CHANGE = "scheduler.change"
    SCHEDULER_REMOVE = "scheduler.remove"
    SETTING_CHANGE = "setting.change"
    USER_CREATE = "user.create"
    USER_SET_PASSWORD = "user.set_password"
    USER_DEACTIVATE = "user.deactivate"
    USER_ACTIVATE = "user.activate"
    USER_GRANT_OPERATOR = "user.grant_operator"
    USER_REVOKE_OPERATOR = "user.revoke_operator"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: Mapping[AuditAction, str] = {
    AuditAction.JOB_RETRY: "Vorgang erneut gestartet",
    AuditAction.JOB_REMOVE: "Vorgang entfernt",
    AuditAction.JOB_PROMOTE: "Verzögerten Vorgang sofort gestartet",
    AuditAction.JOB_TEST_START: "Testvorgang gestartet",
    AuditAction.JOB_ADD: "Vorgang hinzugefügt",
    AuditAction.JOB_DUPLICATE: "Vorgang dupliziert",
    AuditAction.JOB_CHANGE_DATA: "Daten eines Vorgangs geändert",
    AuditAction.JOB_RERUN: "Abgeschlossenen Vorgang erneut ausgeführt",
    AuditAction.QUEUE_RETRY_FAILED: "Fehlgeschlagene Vorgänge erneut gestartet",
    AuditAction.QUEUE_CLEAN: "Warteschlange bereinigt",
    AuditAction.QUEUE_PAUSE: "Warteschlange angehalten",
    AuditAction.QUEUE_RESUME: "Warteschlange fortgesetzt",
    AuditAction.QUEUE_PROMOTE_ALL: "Alle verzögerten Vorgänge sofort gestartet",
    AuditAction.QUEUE_PAUSE_ALL: "Alle Warteschlangen angehalten",
    AuditAction.QUEUE_RESUME_ALL: "Alle Warteschlangen fortgesetzt",
    AuditAction.QUEUE_OBLITERATE: "Warteschlange gelöscht",
    AuditAction.SCHEDULER_CHANGE: "Zeitplan geändert",
    AuditAction.SCHEDULER_REMOVE: "Zeitplan entfernt",
    AuditAction.SETTING_CHANGE: "Einstellung geändert",
    AuditAction.USER_CREATE: "Benutzer angelegt",
    AuditAction.USER_SET_PASSWORD: "Passwort neu gesetzt",
    AuditAction.USER_DEACTIVATE: "Benutzer deaktiviert",
    AuditAction.USER_ACTIVATE: "Benutzer aktiviert",
    AuditAction.USER_GRANT_OPERATOR: "Betreiberrecht erteilt",
    AuditAction.USER_REVOKE_OPERATOR: "Betreiberrecht entzogen",
}


class AuditTarget(StrEnum):
    """What an action was done to."""

    JOB = "job"
    QUEUE = "queue"
    SCHEDULER = "scheduler"
    SETTING = "setting"
    USER = "user"

    @property
    def label(self) -> str:
        return TARGET_LABELS[self]


TARGET_LABELS: Mapping[AuditTarget, str] = {
    AuditTarget.JOB: "Vorgang",
    AuditTarget.QUEUE: "Warteschlange",
    AuditTarget.SCHEDULER: "Zeitplan",
    AuditTarget.SETTING: "Einstellung",
    AuditTarget.USER: "Benutzer",
}


async def record_audit(
    session: AsyncSession,
    *,
    user: Principal,
    action: AuditAction,
    target_type: AuditTarget,
    target_id: str | int,
    details: Mapping[str, Any] | None = None,
    ip: str | None,
    kanzlei_id: int | Literal["actor"] | None = "actor",
) -> AuditLog:
    """Add an audit entry for `user`'s action to `session` (the caller commits).

    The entry goes to the log of the Kanzlei the action touched: `kanzlei_id` names it when
    that is not the actor's own (an operator acting on another Kanzlei's jobs), and None
    marks an installation-wide action (a queue paused, a runtime setting changed), which
    only operators see.
    """
    # Coercing catches an undeclared action or target now, not as a mystery row later.
    entry = AuditLog(
        kanzlei_id=user.kanzlei_id if kanzlei_id == "actor" else kanzlei_id,
        user_id=user.id,
        action=AuditAction(action).value,
        target_type=AuditTarget(target_type).value,
        target_id=str(target_id),
        details=dict(details or {}),
        ip=ip,
    )
    session.add(entry)
    return entry


def record_command_line_audit(
    session: AsyncSession, *, user: User, action: AuditAction, details: Mapping[str, Any]
) -> AuditLog:
    """Add an entry for an operator's `ailawyer user …` command on `user` (the caller commits).

    The command line has no signed-in actor: the entry names the affected user and goes to
    that user's Kanzlei, so its ADMIN sees what the operator changed about its people.
    """
    entry = AuditLog(
        kanzlei_id=user.kanzlei_id,
        user_id=None,
        action=AuditAction(action).value,
        target_type=AuditTarget.USER.value,
        target_id=str(user.id),
        details={"Benutzer": user.email, "über": "Kommandozeile", **details},
        ip=None,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditRow:
    """One entry as the audit page shows it."""

    entry: AuditLog
    user_name: str | None
    # Whether the actor was the installation's operator (shown so a Kanzlei sees who acted).
    by_operator: bool = False
    # The Kanzlei whose log holds the entry; None for installation-wide entries.
    kanzlei_name: str | None = None

    @property
    def actor_label(self) -> str:
        """Who acted, as the page names them."""
        if self.entry.user_id is None and self.entry.target_type == AuditTarget.USER.value:
            return "Betreiber (Kommandozeile)"
        if self.user_name is None:
            return "Gelöschter Benutzer"
        return f"{self.user_name} (Betreiber)" if self.by_operator else self.user_name

    @property
    def action_label(self) -> str:
        return _label(AuditAction, self.entry.action)

    @property
    def target_label(self) -> str:
        return _label(AuditTarget, self.entry.target_type or "")


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


# Whose entries an audit page shows: one Kanzlei's (its ADMIN), or every entry (the operator,
# including installation-wide ones without a Kanzlei).
EVERY_KANZLEI = None


def audit_scope_of(user: Principal) -> int | None:
    """The Kanzlei whose audit log `user` reads, or EVERY_KANZLEI for the operator."""
    return EVERY_KANZLEI if user.is_operator else user.kanzlei_id


def _in_scope(kanzlei_id: int | None) -> list[Any]:
    return [] if kanzlei_id is EVERY_KANZLEI else [AuditLog.kanzlei_id == kanzlei_id]


async def list_audit(
    session: AsyncSession,
    kanzlei_id: int | None,
    *,
    action: str | None = None,
    user_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditPage:
    """One page of audit entries (one Kanzlei's, or all), newest first, by action and user."""
    conditions = _in_scope(kanzlei_id)
    if action:
        conditions.append(AuditLog.action == action)
    if user_id is not None:
        conditions.append(AuditLog.user_id == user_id)
    total = await session.scalar(select(func.count()).select_from(AuditLog).where(*conditions))
    page = max(1, page)
    result = await session.execute(
        select(AuditLog, User.name, User.is_operator, Kanzlei.name)
        .outerjoin(User, User.id == AuditLog.user_id)
        .outerjoin(Kanzlei, Kanzlei.id == AuditLog.kanzlei_id)
        .where(*conditions)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    rows = [
        AuditRow(
            entry=entry,
            user_name=name,
            by_operator=bool(by_operator),
            kanzlei_name=kanzlei_name,
        )
        for entry, name, by_operator, kanzlei_name in result.all()
    ]
    return AuditPage(rows=rows, total=total or 0, page=page, per_page=per_page)


async def recorded_actions(session: AsyncSession, kanzlei_id: int | None) -> list[str]:
    """Actions that occur in the log in scope, also ones no longer declared."""
    result = await session.scalars(select(AuditLog.action).where(*_in_scope(kanzlei_id)).distinct())
    return sorted(result.all())


async def audit_actors(session: AsyncSession, kanzlei_id: int | None) -> list[User]:
    """The users to filter the log in scope by: the Kanzlei's people and anyone who acted in it."""
    in_kanzlei = (
        select(User.id)
        if kanzlei_id is EVERY_KANZLEI
        else (select(User.id).where(User.kanzlei_id == kanzlei_id))
    )
    acted = select(AuditLog.user_id).where(*_in_scope(kanzlei_id), AuditLog.user_id.is_not(None))
    users = await session.scalars(
        select(User).where(or_(User.id.in_(in_kanzlei), User.id.in_(acted))).order_by(User.name)
    )
    return list(users.all())


async def delete_audit_entries_before(session: AsyncSession, before: datetime, limit: int) -> int:
    """Delete up to `limit` entries older than `before` (the retention cleanup, when an
    operator set an age; by default the log is kept); how many."""
    old = select(AuditLog.id).where(AuditLog.created_at < before).limit(limit)
    result = await session.execute(
        delete(AuditLog).where(AuditLog.id.in_(old)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def action_label(action: str) -> str:
    """The German label of a stored action; the raw value for one no longer declared."""
    return _label(AuditAction, action)


def _label(enum_type: type[AuditAction] | type[AuditTarget], value: str) -> str:
    try:
        return enum_type(value).label
    except ValueError:
        return value
