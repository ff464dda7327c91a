"""Demo data for `ailawyer dev`: one Kanzlei, one user per role, a handful of Akten."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte
from ailawyer.domain.roles import Role
from ailawyer.domain.users import count_users, create_user

DEMO_KANZLEI = "Kanzlei Muster & Partner"

DEMO_USERS: tuple[tuple[Role, str, str], ...] = (
    (Role.ADMIN, "admin@kanzlei.example", "Anna Admin"),
    (Role.ANWALT, "anwalt@kanzlei.example", "Dr. Max Mustermann"),
    (Role.SACHBEARBEITER, "sachbearbeiter@kanzlei.example", "Sabine Sachs"),
    (Role.SEKRETARIAT, "sekretariat@kanzlei.example", "Sophie Sekretär"),
)


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    password: str


async def create_demo_data(session: AsyncSession) -> list[DemoLogin]:
    """Create the demo data when the database has no user yet; returns the new logins."""
    if await count_users(session) > 0:
        return []
    logins: list[DemoLogin] = []
    users = {}
    for role, email, name in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        users[role] = await create_user(
            session,
            email=email,
            name=name,
            role=role,
            password=password,
            kanzlei_name=DEMO_KANZLEI,
            # A one-firm installation has one person who runs both the Kanzlei and the machine.
            is_operator=role is Role.ADMIN,
        )
        logins.append(DemoLogin(role, email, password))
    kanzlei_id = users[Role.ADMIN].kanzlei_id
    anwalt, sachbearbeiter = users[Role.ANWALT], users[Role.SACHBEARBEITER]
    akten = (
        ("12/26", "Müller ./. Schmidt GmbH", anwalt.id, sachbearbeiter.id),
        ("13/26", "Erbengemeinschaft Weber", anwalt.id, None),
        ("14/26", "Kündigungsschutz Yilmaz", None, sachbearbeiter.id),
        ("15/26", "Mietsache Becker ./. Hausverwaltung Nord", None, None),
        ("16/26", "Verkehrsunfall Hoffmann", anwalt.id, sachbearbeiter.id),
    )
    for aktenzeichen, kurzrubrum, anwalt_id, sachbearbeiter_id in akten:
        session.add(
            Akte(
                kanzlei_id=kanzlei_id,
                aktenzeichen=aktenzeichen,
                kurzrubrum=kurzrubrum,
                anwalt_id=anwalt_id,
                sachbearbeiter_id=sachbearbeiter_id,
            )
        )
    await session.flush()
    return logins
