"""Creating and looking up users and Kanzleien."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Kanzlei, User
from ailawyer.domain.passwords import hash_password, password_problem
from ailawyer.domain.roles import Role


class UserError(ValueError):
    """A user cannot be created as asked; the message is German and shown as is."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def get_or_create_kanzlei(session: AsyncSession, name: str) -> Kanzlei:
    """The Kanzlei called `name`, created if it does not exist yet."""
    kanzlei = await session.scalar(select(Kanzlei).where(Kanzlei.name == name))
    if kanzlei is None:
        kanzlei = Kanzlei(name=name)
        session.add(kanzlei)
        await session.flush()
    return kanzlei


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    kanzlei_name: str,
    is_operator: bool = False,
) -> User:
    """A new active user in `kanzlei_name` (created if needed); the caller commits."""
    email = normalize_email(email)
    if "@" not in email:
        raise UserError("Bitte geben Sie eine gültige E-Mail-Adresse ein.")
    if not name.strip():
        raise UserError("Bitte geben Sie einen Namen ein.")
    if problem := password_problem(password):
        raise UserError(problem)
    if await get_user_by_email(session, email) is not None:
        raise UserError(f"Es gibt bereits einen Benutzer mit der E-Mail-Adresse {email}.")
    kanzlei = await get_or_create_kanzlei(session, kanzlei_name)
    user = User(
        kanzlei_id=kanzlei.id,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        aktiv=True,
        is_operator=is_operator,
        notification_seq=0,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    # PostgreSQL text cannot hold NUL, so no address with one exists (and asking would fail).
    if "\x00" in email:
        return None
    return await session.scalar(select(User).where(User.email == normalize_email(email)))


async def count_users(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(User)) or 0
