"""Which rooms a connected socket's user belongs in now, as the database says.

A socket enters rooms after a check: its role room at connect, an Akte's room and the job
explorer's on request. Access changes while a socket stays connected: an Akte gets another
anwalt or sachbearbeiter, a role changes, the operator flag is revoked. The socket server
asks this module for its sockets 500 at a time (two queries per slice) and moves those
whose answer changed. The rules themselves are asked, never copied:
`domain/access.py` for Akten, `jobs/access.py` for the explorer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from ailawyer.db.id_batches import id_batches
from ailawyer.db.models import Akte, User
from ailawyer.domain.access import can_access_akte
from ailawyer.domain.roles import Role
from ailawyer.jobs.access import explorer_scope
from ailawyer.realtime.rooms import job_explorer_room, role_room


class _UserNow(NamedTuple):
    """The columns the access rules read, without the joined Kanzlei of a User entity.

    Named tuples, this and `Standing`, not frozen dataclasses: a pass builds one of each
    per socket, and a frozen dataclass's `__init__` costs three times as much (one pass
    over 5,000 sockets held the event loop for ~75 ms; bench/RESULTS.md, issue 15)."""

    id: int
    kanzlei_id: int
    role: Role
    aktiv: bool
    is_operator: bool


class Standing(NamedTuple):
    """Where one socket's user belongs now."""

    # None: the user is gone or deactivated (its session guard disconnects it meanwhile).
    role_room: str | None
    # The explorer room its user would be admitted to now; None: no explorer at all.
    explorer_room: str | None
    # Of the Akten whose rooms the socket is in, those its user may no longer see.
    forbidden_akten: frozenset[int]


_NO_AKTEN: frozenset[int] = frozenset()


async def current_standing(
    db: AsyncSession, sockets: Mapping[str, tuple[int, frozenset[int]]]
) -> dict[str, Standing]:
    """For each socket id (its user's id, the Akten whose rooms it is in): its standing now."""
    users = await _users(db, {user_id for user_id, _ in sockets.values()})
    akten = await _akten(db, {akte_id for _, ids in sockets.values() for akte_id in ids})
    # A user's rooms are the same for each of its sockets (tabs): asked once per user.
    rooms: dict[int, tuple[str | None, str | None]] = {}
    standings = {}
    for sid, (user_id, akte_ids) in sockets.items():
        user = users.get(user_id)
        if (user_rooms := rooms.get(user_id)) is None:
            scope = explorer_scope(user) if user is not None else None
            user_rooms = rooms[user_id] = (
                role_room(user.kanzlei_id, user.role) if user is not None and user.aktiv else None,
                job_explorer_room(scope.kanzlei_id) if scope is not None else None,
            )
        forbidden = (
            frozenset(
                akte_id
                for akte_id in akte_ids
                if user is None
                or (akte := akten.get(akte_id)) is None
                or not can_access_akte(user, akte)
            )
            if akte_ids
            else _NO_AKTEN
        )
        standings[sid] = Standing(*user_rooms, forbidden)
    return standings


async def _users(db: AsyncSession, ids: Iterable[int]) -> dict[int, _UserNow]:
    columns = select(User.id, User.kanzlei_id, User.role, User.aktiv, User.is_operator)
    if db.get_bind().dialect.name == "postgresql":
        # One array parameter instead of an IN list of one parameter per id: binding
        # those was half the time of reading 5,000 users (27 against 13 ms).
        wanted = bindparam("ids", sorted(set(ids)), type_=ARRAY(BigInteger()))
        queries = [columns.where(User.id == any_(wanted))]
    else:
        queries = [columns.where(User.id.in_(chunk)) for chunk in id_batches(ids)]
    found: dict[int, _UserNow] = {}
    for query in queries:
        found.update((row[0], _UserNow(*row)) for row in await db.execute(query))
    return found


async def _akten(db: AsyncSession, ids: Iterable[int]) -> dict[int, Akte]:
    found: dict[int, Akte] = {}
    for chunk in id_batches(ids):
        # Only the Akte's own columns: the rule reads no relationship.
        query = select(Akte).where(Akte.id.in_(chunk)).options(lazyload("*"))
        found.update((akte.id, akte) for akte in await db.scalars(query))
    return found
