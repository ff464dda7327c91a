"""Emit Socket.IO events to a user, an Akte or a role, from an app process or the worker.

App processes emit through their Socket.IO server (local sockets directly, other
processes over Redis); every other process uses a write-only Redis manager, which
can only publish. Both publish on the same channel, so a worker's event reaches
sockets on every app process. An event whose data differs per user (a notification for
every member of a role, each with its own id and seq) is one message for all of them
(`Emitter.to_each_member`, `per_user`); each app process hands every member its own
event (`ailawyer.app.realtime.manager`). Delivery is best effort: whatever a user must not
miss is written to the database first (see ailawyer.notifications), and an event about a
change is staged on that change's transaction and sent after its commit
(`ailawyer.realtime.outbox`; docs/ARCHITECTURE.md, "How an event travels").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ailawyer.domain.roles import Role
from ailawyer.logs import get_logger
from ailawyer.realtime.rooms import akte_room, job_explorer_room, role_room, user_room
from ailawyer.redis_client import redis_options

if TYPE_CHECKING:
    from socketio import AsyncRedisManager

log = get_logger(__name__)

NAMESPACE = "/"
# Per-user events travel in a namespace no socket ever joins: an app process that does not
# know it (an older one during an upgrade) sends their combined data to no one.
PER_USER_NAMESPACE = "/ailawyer-per-user"
# What an event reports is committed already (or needs no record); a Redis that hangs must
# not hold up the job or request that sends it.
EMIT_TIMEOUT_SECONDS = 5.0


def socketio_channel(prefix: str) -> str:
    """The Redis pub/sub channel all Socket.IO servers and emitters of one installation share."""
    return f"{prefix}:socketio"


def socketio_logger() -> logging.Logger:
    """The logger handed to python-socketio; it logs every emit at INFO, which is only noise."""
    logger = logging.getLogger("ailawyer.realtime.socketio")
    logger.setLevel(logging.WARNING)
    return logger


def per_user(
    shared: Mapping[str, Any], personal: Iterable[tuple[int, Mapping[str, Any]]]
) -> dict[str, Any]:
    """The data of a per-user event: each (user id, fields) of `personal` is one recipient,
    who receives `shared` with its own fields added (`each_user` reads it back)."""
    return {
        "shared": dict(shared),
        "users": [[user_id, dict(fields)] for user_id, fields in personal],
    }


def each_user(data: Mapping[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The (user id, event data) pairs that a `per_user` event's data stands for."""
    shared = data["shared"]
    for user_id, fields in data["users"]:
        yield int(user_id), {**shared, **fields}


class _Backend(Protocol):
    """What AsyncServer and a write-only AsyncRedisManager both offer."""

    async def emit(self, event: str, data: Any, *, to: str, namespace: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class EmitTarget:
    """One room; `emit` sends an event to every socket in it, on every app process."""

    backend: _Backend
    room: str
    namespace: str = NAMESPACE

    async def emit(self, event: str, data: Any) -> None:
        """Send `event` with JSON-serialisable `data` to the room."""
        await self.backend.emit(event, data, to=self.room, namespace=self.namespace)

    async def send(self, event: str, data: Any) -> bool:
        """`emit`, best effort: waits at most `EMIT_TIMEOUT_SECONDS`, logs a failure instead
        of raising (clients read the database on reconnect); False if it was not sent."""
        try:
            async with asyncio.timeout(EMIT_TIMEOUT_SECONDS):
                await self.emit(event, data)
        except Exception as error:
            log.warning(
                "event not sent; clients catch up from the database",
                event=event,
                room=self.room,
                error=repr(error),
            )
            return False
        return True


class Emitter:
    """Picks a room by meaning (user, Akte, role) so no caller spells a room name."""

    def __init__(self, backend: _Backend, *, manager: AsyncRedisManager | None = None) -> None:
        self._backend = backend
        # Only a write-only emitter owns a Redis connection that close() must release.
        self._manager = manager

    @classmethod
    def write_only(cls, redis_url: str, prefix: str) -> Emitter:
        """An emitter for processes without a Socket.IO server (the worker, scripts)."""
        # Imported here: the shared domain imports this module, and only a process that
        # publishes needs python-socketio loaded.
        from socketio import AsyncRedisManager

        manager = AsyncRedisManager(
            redis_url,
            channel=socketio_channel(prefix),
            write_only=True,
            logger=socketio_logger(),
            # socket_timeout=None and our retry policy, like every other connection.
            redis_options=redis_options(),
        )
        return cls(manager, manager=manager)

    @classmethod
    def for_server(cls, server: _Backend) -> Emitter:
        """An emitter bound to an app process's AsyncServer."""
        return cls(server)

    def to_user(self, user_id: int) -> EmitTarget:
        """All sockets of one user."""
        return EmitTarget(self._backend, user_room(user_id))

    def to_akte(self, akte_id: int) -> EmitTarget:
        """All sockets that joined the Akte's room (after the access check)."""
        return EmitTarget(self._backend, akte_room(akte_id))

    def to_role(self, kanzlei_id: int, role: Role) -> EmitTarget:
        """All sockets of the users with `role` in one Kanzlei."""
        return EmitTarget(self._backend, role_room(kanzlei_id, role))

    def to_each_member(self, kanzlei_id: int, role: Role) -> EmitTarget:
        """Members of a role in one Kanzlei, each in their own user room, with one Redis
        message for all: the data is `per_user(...)` and names the members, so who is one is
        decided where their rows are written (`NotificationService.stage_role`), not by the
        role's room, which only labels the message. Only app processes (through their
        `RealtimeRedisManager`) deliver it, each to the members' sockets it holds."""
        return EmitTarget(self._backend, role_room(kanzlei_id, role), PER_USER_NAMESPACE)

    def to_job_explorer(self, kanzlei_id: int | None) -> EmitTarget:
        """Open job explorer pages: the operator's (`None`) or one Kanzlei's ADMINs'."""
        return EmitTarget(self._backend, job_explorer_room(kanzlei_id))

    async def close(self) -> None:
        """Release the write-only manager's Redis connection (no-op when bound to a server)."""
        if self._manager is not None and self._manager.redis is not None:
            await self._manager.redis.aclose()
