"""Who may see an Akte: decided here and nowhere else.

Every page, API and Socket.IO room join asks `can_access_akte` / `get_akte_for_user`.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, is_id
from ailawyer.domain.roles import Role

# Roles that see every Akte of their own Kanzlei.
KANZLEI_WIDE_ROLES = frozenset({Role.ADMIN, Role.SEKRETARIAT})


class Principal(Protocol):
    """What access decisions need to know about a user (a User row or a session's user)."""

    @property
    def id(self) -> int: ...
    @property
    def kanzlei_id(self) -> int: ...
    @property
    def role(self) -> Role: ...
    @property
    def aktiv(self) -> bool: ...
    # The installation's operator (docs/ARCHITECTURE.md, "Trust model"): Akten do not ask it;
    # jobs and the audit log do.
    @property
    def is_operator(self) -> bool: ...


def can_access_akte(user: Principal, akte: Akte) -> bool:
    """Same Kanzlei, and a Kanzlei-wide role or the Akte's anwalt or sachbearbeiter."""
    if not user.aktiv or user.kanzlei_id != akte.kanzlei_id:
        return False
    return user.role in KANZLEI_WIDE_ROLES or user.id in (akte.anwalt_id, akte.sachbearbeiter_id)


def visible_akten_query(user: Principal) -> Select[tuple[Akte]]:
    """The Akten `user` may see, as a query (the set-form of `can_access_akte`)."""
    query = select(Akte).where(Akte.kanzlei_id == user.kanzlei_id)
    if not user.aktiv:
        return query.where(False)
    if user.role not in KANZLEI_WIDE_ROLES:
        query = query.where(or_(Akte.anwalt_id == user.id, Akte.sachbearbeiter_id == user.id))
    return query


async def get_akte_for_user(session: AsyncSession, user: Principal, akte_id: int) -> Akte | None:
    """The Akte if it exists and `user` may see it; None otherwise (callers answer 404)."""
    if not is_id(akte_id):
        return None
    akte = await session.get(Akte, akte_id)
    if akte is None or not can_access_akte(user, akte):
        return None
    return akte
