"""Events after commit: Socket.IO events staged on a database transaction, sent by its commit.

A change stages the events that report it on the session it is written with (`stage`);
`commit` commits the session and only then sends them, each best effort with a timeout
(`EmitTarget.send`). A rollback, or a session closed without a commit, drops them, so
nothing is announced that did not happen, and a client that receives an event can always
read what it reports. Zulip's `send_event_on_commit` is the model; docs/ARCHITECTURE.md,
"How an event travels from a worker to a browser", shows the whole way.

Invariants:
1. An event goes out only after the transaction that staged it committed.
2. At most once: `commit` takes the committed events out of the session before sending.
3. The events of one session go out in the order they were staged.

SQLAlchemy's `after_commit` hook is synchronous and cannot await an emit, so it only moves
the transaction's events to the session's committed list; `commit` sends that list. Commit
a session that staged events with `commit`, not `session.commit()`: the latter keeps them
until the session's next `commit` and loses them if the session is closed first.
Savepoints are not tracked: an event staged inside a rolled-back savepoint still goes out
with the outer commit (nothing here uses savepoints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from ailawyer.realtime.emitter import EmitTarget

# Built after the commit when it needs what only the commit completes (a row's id), e.g.
# a notification row's `as_payload`.
Payload = Mapping[str, Any] | Callable[[], Mapping[str, Any]]

# Keys in `Session.info`, which lives as long as the session.
_STAGED = "ailawyer.outbox.staged"
_COMMITTED = "ailawyer.outbox.committed"


@dataclass(frozen=True, slots=True)
class _Event:
    target: EmitTarget
    name: str
    payload: Payload

    def data(self) -> Mapping[str, Any]:
        return self.payload() if callable(self.payload) else self.payload


def stage(session: AsyncSession, target: EmitTarget, name: str, payload: Payload) -> None:
    """Send `name` to `target` once the session's current transaction has committed."""
    if not session.in_transaction():
        # Begin (without touching the database yet) so that the event belongs to a
        # transaction whose rollback drops it, even before its first statement.
        session.sync_session.begin()
    session.info.setdefault(_STAGED, []).append(_Event(target, name, payload))


async def commit(session: AsyncSession) -> None:
    """Commit the session, then send the events its transaction staged (never raises for
    an event that cannot be sent: the committed rows are the truth, clients catch up)."""
    await session.commit()
    committed: list[_Event] = session.info.pop(_COMMITTED, [])
    for staged in committed:
        await staged.target.send(staged.name, staged.data())


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    # Runs for the outermost transaction only, before `after_transaction_end`.
    staged = session.info.pop(_STAGED, None)
    if staged:
        session.info.setdefault(_COMMITTED, []).extend(staged)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without `after_commit` having taken its events
    # (rollback, close): they report nothing that happened.
    if transaction.parent is None:
        session.info.pop(_STAGED, None)
