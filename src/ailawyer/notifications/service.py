"""Durable notifications: written and committed first, then announced over Socket.IO.

Invariants the browser's catch-up relies on:
1. Every notification of a user has a sequence number (`seq`), allocated by incrementing
   `users.notification_seq` with an UPDATE. The UPDATE holds that user's row lock until
   commit, so seqs of one user are gapless and commit in increasing order: whoever can
   read seq N can also read every seq below it.
2. The event goes out only after the commit, so a client that receives it can always
   fetch the row, and nothing is announced that a rollback takes back: `stage_user` and
   `stage_role` add the rows to the caller's transaction and stage their events on it
   (`ailawyer.realtime.outbox`); the caller's `outbox.commit` writes and then sends them.
   A role's notification is one event for all its members (one Redis message, however
   many they are), carrying each member's own id and seq (`Emitter.to_each_member`).
3. The socket is best effort. A client that was away asks for everything after the last
   seq it saw (`after`); a cursor the server cannot serve raises `CursorInvalid`, which
   tells the client to start over instead of silently missing notifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Row, delete, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from ailawyer.db.id_batches import id_batches
from ailawyer.db.models import Notification, Severity, User, is_id, utcnow
from ailawyer.domain.roles import Role
from ailawyer.notifications.types import NotificationType, resolve
from ailawyer.realtime import events, outbox
from ailawyer.realtime.emitter import Emitter, per_user

RECENT_LIMIT = 50
# A client further behind than this reloads the list instead of replaying the gap.
CATCH_UP_LIMIT = 200
ACTION_METHODS = frozenset({"POST"})
TITLE_MAX = 300
LINK_MAX = 500
ACTION_LABEL_MAX = 60


class NotificationNotFound(LookupError):
    """No such notification for this user (another user's counts as none)."""


class CursorInvalid(Exception):
    """The client's cursor is ahead of the server or too far behind: it must start over."""


def _is_site_path(url: str) -> bool:
    # Only paths on our own site: a link or action must never lead elsewhere, nor run script.
    return url.startswith("/") and not url.startswith("//") and "\\" not in url


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); the browser must not read local time.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class NotificationOut(NamedTuple):
    """A notification as the API returns it and the socket sends it.

    A named tuple, not a frozen dataclass: a list builds 50 of them per request, and a
    frozen dataclass's `__init__` took three times as long (bench/RESULTS.md, issue 14).
    """

    id: int
    seq: int
    type: str
    title: str
    message: str
    link: str | None
    severity: Severity
    data: dict[str, Any]
    action: dict[str, str] | None
    created_at: datetime
    read_at: datetime | None
    sound: str | None

    @classmethod
    def from_row(cls, row: Notification | Row[Any]) -> NotificationOut:
        """Build from a row (an entity, or a `_visible` result row with the same names); the
        sound comes from the type's declaration."""
        try:
            sound = resolve(row.type).sound
        except KeyError:
            # A type removed from the code may still have rows: show them, silently.
            sound = None
        return cls(
            id=row.id,
            seq=row.seq,
            type=row.type,
            title=row.title,
            message=row.message,
            link=row.link,
            severity=Severity(row.severity),
            data=dict(row.data or {}),
            action=dict(row.action) if row.action else None,
            created_at=row.created_at,
            read_at=row.read_at,
            sound=sound.value if sound else None,
        )

    def as_payload(self) -> dict[str, Any]:
        """JSON-ready dict; text fields are plain text that the browser must not parse as HTML."""
        return {
            "id": self.id,
            "seq": self.seq,
            "type": self.type,
            "title": self.title,
            "message": self.message,
            "link": self.link,
            "severity": self.severity.value,
            "data": self.data,
            "action": self.action,
            "created_at": _utc(self.created_at).isoformat(),
            "read": self.read_at is not None,
            "sound": self.sound,
        }


@dataclass(frozen=True, slots=True)
class Unread:
    """The unread count as of the user's seq `seq`, both read in one statement.

    Responses and events can overtake each other; the seq tells a client which count is
    the newer one, and which notifications it holds are not yet counted in it.
    """

    count: int
    seq: int

    def as_payload(self) -> dict[str, int]:
        """JSON-ready dict, merged into API answers and socket events."""
        return {"unread_count": self.count, "unread_seq": self.seq}


@dataclass(frozen=True, slots=True)
class NotificationPage:
    """Notifications plus the cursor the client continues from."""

    items: list[NotificationOut]
    unread: Unread
    # The highest seq the client may consider seen; can exceed every listed item's seq
    # because dismissed notifications are not listed.
    last_seq: int

    def as_payload(self) -> dict[str, Any]:
        """JSON-ready dict for the API."""
        return {
            "items": [item.as_payload() for item in self.items],
            "last_seq": self.last_seq,
            **self.unread.as_payload(),
        }


@dataclass(frozen=True, slots=True)
class _Content:
    """Validated content of a new notification, shared by all recipients."""

    type: NotificationType
    title: str
    message: str
    link: str | None
    severity: Severity
    data: dict[str, Any]
    action: dict[str, str] | None

    @classmethod
    def build(
        cls,
        *,
        type: NotificationType | str,
        title: str,
        message: str,
        link: str | None,
        severity: Severity,
        data: dict[str, Any] | None,
        action: dict[str, str] | None,
    ) -> _Content:
        title = title.strip()
        if not title or len(title) > TITLE_MAX:
            raise ValueError(f"title must have 1 to {TITLE_MAX} characters")
        if link is not None and (len(link) > LINK_MAX or not _is_site_path(link)):
            raise ValueError("link must be a path on this site, e.g. /akten/42")
        if action is not None:
            action = cls._checked_action(action)
        return cls(
            type=resolve(type),
            title=title,
            message=message,
            link=link,
            severity=Severity(severity),
            data=dict(data or {}),
            action=action,
        )

    @staticmethod
    def _checked_action(action: dict[str, str]) -> dict[str, str]:
        label, url = action.get("label", ""), action.get("url", "")
        method = action.get("method", "POST").upper()
        if not label or len(label) > ACTION_LABEL_MAX:
            raise ValueError(f"action label must have 1 to {ACTION_LABEL_MAX} characters")
        if not _is_site_path(url) or len(url) > LINK_MAX:
            raise ValueError("action url must be a path on this site")
        if method not in ACTION_METHODS:
            raise ValueError(f"action method must be one of {sorted(ACTION_METHODS)}")
        return {"label": label, "url": url, "method": method}

    def row(self, user_id: int, seq: int, created_at: datetime) -> Notification:
        fixed = self._fixed(created_at)
        return Notification(
            user_id=user_id, seq=seq, **{column.key: value for column, value in fixed.items()}
        )

    def _fixed(self, created_at: datetime) -> dict[Any, Any]:
        # Every column but the member's own (user_id, seq) and the id the INSERT assigns.
        return {
            Notification.type: self.type.key,
            Notification.title: self.title,
            Notification.message: self.message,
            Notification.link: self.link,
            Notification.severity: self.severity,
            Notification.data: self.data,
            Notification.action: self.action,
            Notification.created_at: created_at,
        }

    def insert_from(self, recipients: Any, created_at: datetime) -> ReturningInsert[Any]:
        """One INSERT of this content for each row of `recipients` (a selectable with the
        columns `id` and `notification_seq`: the users and the seqs just allocated to
        them), returning (user_id, id, seq) per row. Only those three: every other column
        is this content, so nothing is sent back and decoded a thousand times."""
        fixed = self._fixed(created_at)
        # Built in the database: no entity per member (an ORM flush of a thousand cost
        # ~100 ms of CPU, five times this).
        values = select(
            recipients.c.id,
            recipients.c.notification_seq,
            *(literal(value, column.type) for column, value in fixed.items()),
        )
        columns = [Notification.user_id, Notification.seq, *fixed]
        return (
            insert(Notification)
            .from_select([column.key for column in columns], values)
            .returning(Notification.user_id, Notification.id, Notification.seq)
        )

    def stored(self, rows: Iterable[Any], created_at: datetime) -> dict[int, NotificationOut]:
        """Each member's notification by user id, from its (user_id, id, seq) and this
        content: what `NotificationOut.from_row` reads back from the row, without reading
        it. The members share `data` and `action` (one dict each, read only)."""
        # Everything after id and seq, shaped by `from_row` from an unsaved row.
        shared = NotificationOut.from_row(self.row(0, 0, created_at))[2:]
        make = NotificationOut._make
        return {user_id: make((id_, seq, *shared)) for user_id, id_, seq in rows}


class NotificationService:
    """Creates, lists and updates notifications; used by the app and the worker alike."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter

    # --- creating -------------------------------------------------------------------

    async def stage_user(
        self,
        session: AsyncSession,
        user_id: int,
        *,
        type: NotificationType | str,
        title: str,
        message: str = "",
        link: str | None = None,
        severity: Severity = Severity.INFO,
        data: dict[str, Any] | None = None,
        action: dict[str, str] | None = None,
    ) -> Notification:
        """Add a notification for one user to the caller's transaction and stage its event;
        the caller's `outbox.commit` stores and then sends it. A notification owed by a
        change (a Dokument finished) commits with that change or not at all, so a crash or
        a database restart between the two cannot keep the change and lose its notice.
        Raises LookupError for an unknown user.
        """
        content = _Content.build(
            type=type,
            title=title,
            message=message,
            link=link,
            severity=severity,
            data=data,
            action=action,
        )
        seq = (
            await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(notification_seq=User.notification_seq + 1)
                .returning(User.notification_seq)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one_or_none()
        if seq is None:
            raise LookupError(f"no user {user_id}")
        row = content.row(user_id, seq, utcnow())
        self._add(session, row)
        return row

    async def stage_role(
        self,
        session: AsyncSession,
        kanzlei_id: int,
        role: Role,
        *,
        type: NotificationType | str,
        title: str,
        message: str = "",
        link: str | None = None,
        severity: Severity = Severity.INFO,
        data: dict[str, Any] | None = None,
        action: dict[str, str] | None = None,
    ) -> dict[int, NotificationOut]:
        """Notify every active user with `role` in one Kanzlei (one row, one seq each), in
        the caller's transaction like `stage_user`; returns each member's notification by
        user id. The rows are written at once (a thousand members' in one statement on
        PostgreSQL, the seqs' UPDATE feeding the INSERT), and their events go out as one
        message: each member receives the same payload as from `stage_user`, with its own
        id and seq. Only (user id, id, seq) come back from the database; the rest of each
        member's notification is this call's content (its `data` and `action` dicts are
        shared by all members: read them, do not change them)."""
        content = _Content.build(
            type=type,
            title=title,
            message=message,
            link=link,
            severity=severity,
            data=data,
            action=action,
        )
        # One moment for all: the members' payloads differ only in id and seq.
        created_at = utcnow()
        # One statement allocates every recipient's seq, so two calls never lock the
        # same users one by one in different orders.
        allocate = (
            update(User)
            .where(User.kanzlei_id == kanzlei_id, User.role == role, User.aktiv.is_(True))
            .values(notification_seq=User.notification_seq + 1)
            .returning(User.id, User.notification_seq)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Allocation and rows in one statement, one round trip: the UPDATE (its row
            # locks held until commit, as in `stage_user`) feeds the INSERT.
            recipients = allocate.cte("recipients")
            rows = (await session.execute(content.insert_from(recipients, created_at))).all()
        else:
            # SQLite has no UPDATE inside WITH: allocate, then insert per IN list.
            allocated = (
                await session.execute(allocate.execution_options(synchronize_session=False))
            ).all()
            rows = []
            for batch in id_batches(user_id for user_id, _ in allocated):
                recipients = (
                    select(User.id, User.notification_seq).where(User.id.in_(batch)).subquery()
                )
                rows += (await session.execute(content.insert_from(recipients, created_at))).all()
        stored = content.stored(rows, created_at)
        if stored:
            outbox.stage(
                session,
                self._emitter.to_each_member(kanzlei_id, role),
                events.NOTIFICATION,
                _for_each_member(stored),
            )
        return stored

    def _add(self, session: AsyncSession, row: Notification) -> None:
        session.add(row)
        # The payload is built after the commit: the row's id is assigned by its INSERT.
        outbox.stage(
            session,
            self._emitter.to_user(row.user_id),
            events.NOTIFICATION,
            lambda: NotificationOut.from_row(row).as_payload(),
        )

    # --- reading --------------------------------------------------------------------

    async def recent(
        self, session: AsyncSession, user_id: int, limit: int = RECENT_LIMIT
    ) -> NotificationPage:
        """The newest notifications that are not dismissed, newest first, read with `session`
        (a request's, so the list costs no session of its own)."""
        # The cursor is read before the rows: a notification committed in between is
        # then listed (and deduplicated by the client) instead of skipped.
        last_seq = await self._last_seq(session, user_id)
        rows = (
            await session.execute(
                self._visible(user_id).order_by(Notification.seq.desc()).limit(limit)
            )
        ).all()
        unread = await self._unread(session, user_id)
        items = [NotificationOut.from_row(row) for row in rows]
        return NotificationPage(items, unread, max([last_seq, *(i.seq for i in items)]))

    async def after(self, session: AsyncSession, user_id: int, seq: int) -> NotificationPage:
        """Everything after `seq` that is not dismissed, oldest first (the catch-up)."""
        last_seq = await self._last_seq(session, user_id)
        if seq < 0 or seq > last_seq or last_seq - seq > CATCH_UP_LIMIT:
            raise CursorInvalid(f"cursor {seq} cannot be served (last is {last_seq})")
        # Bounded even if many more are committed while we read.
        cap = 2 * CATCH_UP_LIMIT
        rows = (
            await session.execute(
                self._visible(user_id)
                .where(Notification.seq > seq)
                .order_by(Notification.seq)
                .limit(cap)
            )
        ).all()
        unread = await self._unread(session, user_id)
        items = [NotificationOut.from_row(row) for row in rows]
        if len(items) == cap:
            # Cut short: continue right after the last one delivered, not after last_seq.
            last_seq = items[-1].seq
        elif items:
            last_seq = max(last_seq, items[-1].seq)
        return NotificationPage(items, unread, last_seq)

    async def unread(self, session: AsyncSession, user_id: int) -> Unread:
        """How many notifications the user has neither read nor dismissed."""
        return await self._unread(session, user_id)

    # --- updating -------------------------------------------------------------------
    # Each commits the caller's session (the request's), with the unread count read in the
    # same transaction (one connection checkout). The events carry that count, so they are
    # sent after the commit directly (best effort, `EmitTarget.send`) instead of being
    # staged on the outbox.

    async def mark_read(self, session: AsyncSession, user_id: int, notification_id: int) -> Unread:
        """Mark one notification read and tell every tab of the user."""
        changed = await self._set_once(session, user_id, notification_id, "read_at")
        unread = await self._unread(session, user_id)
        await session.commit()
        if changed:
            await self._emitter.to_user(user_id).send(
                events.NOTIFICATION_READ, {"ids": [notification_id], **unread.as_payload()}
            )
        return unread

    async def mark_all_read(self, session: AsyncSession, user_id: int) -> Unread:
        """Mark everything up to the current seq read and tell every tab of the user."""
        up_to = await self._last_seq(session, user_id)
        await session.execute(
            update(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.seq <= up_to,
                Notification.read_at.is_(None),
                Notification.dismissed_at.is_(None),
            )
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        unread = await self._unread(session, user_id)
        await session.commit()
        await self._emitter.to_user(user_id).send(
            events.NOTIFICATION_READ, {"up_to_seq": up_to, **unread.as_payload()}
        )
        return unread

    async def dismiss(self, session: AsyncSession, user_id: int, notification_id: int) -> Unread:
        """Remove a notification from the user's lists and tell every tab of the user."""
        changed = await self._set_once(session, user_id, notification_id, "dismissed_at")
        unread = await self._unread(session, user_id)
        await session.commit()
        if changed:
            await self._emitter.to_user(user_id).send(
                events.NOTIFICATION_DISMISSED, {"id": notification_id, **unread.as_payload()}
            )
        return unread

    # --- internals ------------------------------------------------------------------

    @staticmethod
    def _visible(user_id: int) -> Any:
        # Plain rows, not entities: the lists only read them, and building 50 tracked
        # entities per request was a tenth of the list's CPU time (bench/RESULTS.md).
        return select(*Notification.__table__.columns).where(
            Notification.user_id == user_id, Notification.dismissed_at.is_(None)
        )

    @staticmethod
    async def _last_seq(session: AsyncSession, user_id: int) -> int:
        seq = await session.scalar(select(User.notification_seq).where(User.id == user_id))
        return int(seq or 0)

    @staticmethod
    async def _unread(session: AsyncSession, user_id: int) -> Unread:
        # One statement, one snapshot: the count covers exactly the seqs up to `seq`.
        count = (
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.read_at.is_(None),
                Notification.dismissed_at.is_(None),
            )
            .scalar_subquery()
        )
        seq = select(User.notification_seq).where(User.id == user_id).scalar_subquery()
        row = (await session.execute(select(count, seq))).one()
        return Unread(count=int(row[0] or 0), seq=int(row[1] or 0))

    @staticmethod
    async def _set_once(
        session: AsyncSession, user_id: int, notification_id: int, column: str
    ) -> bool:
        """Set the timestamp `column` if it is still NULL; True if this call set it."""
        if not is_id(notification_id):
            raise NotificationNotFound(notification_id)
        result = await session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.user_id == user_id,
                getattr(Notification, column).is_(None),
            )
            .values({column: utcnow()})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            return True
        # Nothing changed: already set (fine, idempotent) or not this user's at all.
        exists = await session.scalar(
            select(Notification.id).where(
                Notification.id == notification_id, Notification.user_id == user_id
            )
        )
        if exists is None:
            raise NotificationNotFound(notification_id)
        return False


_OWN_FIELDS = ("id", "seq")


def _for_each_member(stored: Mapping[int, NotificationOut]) -> dict[str, Any]:
    """One event's data for the members' copies of one role notification (same content
    and time): the payload once, each member's id and seq (`per_user`)."""
    shared = next(iter(stored.values())).as_payload()
    for field in _OWN_FIELDS:
        del shared[field]
    return per_user(
        shared, ((user_id, {"id": n.id, "seq": n.seq}) for user_id, n in stored.items())
    )


async def delete_old_notifications(
    session: AsyncSession, *, created_before: datetime, dismissed_before: datetime, limit: int
) -> int:
    """Delete up to `limit` notifications created before `created_before` or dismissed before
    `dismissed_before` (the retention cleanup); how many. The seqs live on the user row, so
    every client's cursor stays valid."""
    old = (
        select(Notification.id)
        .where(
            or_(
                Notification.created_at < created_before,
                Notification.dismissed_at < dismissed_before,
            )
        )
        .limit(limit)
    )
    result = await session.execute(
        delete(Notification)
        .where(Notification.id.in_(old))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
