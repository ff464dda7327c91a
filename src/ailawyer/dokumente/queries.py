"""Reading Dokumente, always through the Akte access rule."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, Dokument, is_id
from ailawyer.domain.access import Principal, get_akte_for_user


async def dokumente_of_akte(session: AsyncSession, akte: Akte) -> list[Dokument]:
    """The Dokumente of an Akte the caller may see, oldest first."""
    rows = await session.scalars(
        select(Dokument).where(Dokument.akte_id == akte.id).order_by(Dokument.created_at)
    )
    return list(rows.all())


async def get_dokument_for_user(
    session: AsyncSession, user: Principal, akte_id: int, dokument_id: int
) -> tuple[Akte, Dokument] | None:
    """The Akte and its Dokument if both exist and `user` may see the Akte; else None (404)."""
    akte = await get_akte_for_user(session, user, akte_id)
    if akte is None or not is_id(dokument_id):
        return None
    dokument = await session.get(Dokument, dokument_id)
    if dokument is None or dokument.akte_id != akte.id:
        return None
    return akte, dokument
