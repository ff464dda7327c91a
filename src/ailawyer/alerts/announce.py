"""Tell every operator that an incident started or ended: a SYSTEM_ALERT notification.

Operators (`users.is_operator`) run the installation; a Kanzlei's ADMIN is not told (see
docs/ARCHITECTURE.md, "Trust model"). The notifications of one transition are written in
one transaction and announced after its commit (`outbox.commit`), like every other
notification: bell, toast and browser notification come with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from ailawyer.alerts.checks import seconds_de
from ailawyer.alerts.incidents import Transition
from ailawyer.db.models import Severity, User
from ailawyer.db.session import Database
from ailawyer.notifications.service import NotificationService
from ailawyer.notifications.types import SYSTEM_ALERT
from ailawyer.realtime import outbox

# Where an operator sees every open incident.
SYSTEM_PAGE = "/admin/system"


async def announce(db: Database, notifications: NotificationService, transition: Transition) -> int:
    """Notify every active operator of `transition`; how many were notified."""
    incident = transition.incident
    if transition.kind == "opened":
        title = f"Störung: {incident.title}"
        message = incident.detail
        severity = incident.severity
    else:
        title = f"Behoben: {incident.title}"
        lasted = seconds_de(transition.at - incident.since)
        message = f"Die Störung ist vorbei (Dauer: {lasted}). Sie lautete: {incident.detail}"
        severity = Severity.SUCCESS
    data = {
        "incident": incident.key,
        "state": transition.kind,
        "since": datetime.fromtimestamp(incident.since, UTC).isoformat(),
    }
    async with db.session() as session:
        # In id order, like every caller that notifies several users: two transactions never
        # lock the same users in different orders.
        operators = (
            await session.scalars(
                select(User.id).where(User.is_operator, User.aktiv).order_by(User.id)
            )
        ).all()
        for user_id in operators:
            await notifications.stage_user(
                session,
                user_id,
                type=SYSTEM_ALERT,
                title=title,
                message=message,
                link=SYSTEM_PAGE,
                severity=severity,
                data=data,
            )
        await outbox.commit(session)
    return len(operators)
