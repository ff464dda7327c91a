"""Socket.IO room names: spelled out here and nowhere else.

Role rooms carry the Kanzlei (`role:{kanzlei_id}:{ROLE}`): an event for "all ADMINs"
must never reach the administrators of another Kanzlei.
"""

from __future__ import annotations

from ailawyer.domain.roles import Role


def user_room(user_id: int) -> str:
    """Every socket of one user (all tabs, all devices)."""
    return f"user:{user_id}"


def akte_room(akte_id: int) -> str:
    """Sockets of pages showing one Akte; joined only after the Akte access check."""
    return f"akte:{akte_id}"


def role_room(kanzlei_id: int, role: Role) -> str:
    """Every socket of the users with `role` in one Kanzlei."""
    return f"role:{kanzlei_id}:{Role(role).value}"


def job_explorer_room(kanzlei_id: int | None) -> str:
    """Sockets of the job explorer pages: the operator's (`None`: every job) or those of one
    Kanzlei's ADMINs (its jobs only). Joined after `ailawyer.jobs.access.explorer_scope`;
    an event about a Kanzlei's job goes to both rooms, one about the installation's only to
    the operator's.
    """
    return "admin:jobs" if kanzlei_id is None else f"{_KANZLEI_EXPLORER}{kanzlei_id}"


_KANZLEI_EXPLORER = "admin:jobs:kanzlei:"


def explorer_room_kanzlei(room: str) -> int | None:
    """The Kanzlei whose explorer room `room` is; None for any other room."""
    if not room.startswith(_KANZLEI_EXPLORER):
        return None
    tail = room[len(_KANZLEI_EXPLORER) :]
    return int(tail) if tail.isdecimal() else None
