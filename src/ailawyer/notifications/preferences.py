"""A user's notification preferences: which sounds play, and system notifications.

Whether a browser may show system notifications is that browser's own answer
(`Notification.permission`), asked in each browser where it is still open
(static/js/notifications/system.js). The server keeps only what belongs to the person:
whether they want system notifications at all, and whether browsers may still ask.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import UserSettings, utcnow
from ailawyer.notifications.sounds import SoundEvent

# German names of the sounds on the Einstellungen page.
SOUND_LABELS: Mapping[SoundEvent, str] = MappingProxyType(
    {
        SoundEvent.JOB_COMPLETED: "Verarbeitung abgeschlossen",
        SoundEvent.JOB_FAILED: "Verarbeitung fehlgeschlagen",
        SoundEvent.SYSTEM_ALERT: "Systemhinweis",
    }
)


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    # Every sound is off unless the user switched it on.
    sounds: Mapping[SoundEvent, bool]
    # System notifications in every browser that allows them; off: in none.
    system_notifications: bool
    # Browsers that were not asked yet ask; off after "Nicht mehr fragen".
    ask_permission: bool

    def as_payload(self) -> dict[str, Any]:
        """JSON-ready dict for the browser."""
        return {
            "sounds": {event.value: on for event, on in self.sounds.items()},
            "system_notifications": self.system_notifications,
            "ask_permission": self.ask_permission,
        }


def _from_row(row: UserSettings | None) -> NotificationPreferences:
    stored = row.sounds if row is not None else {}
    return NotificationPreferences(
        sounds={event: stored.get(event.value) is True for event in SoundEvent},
        system_notifications=row.system_notifications if row is not None else True,
        ask_permission=row.ask_browser_permission if row is not None else True,
    )


async def load_preferences(db: AsyncSession, user_id: int) -> NotificationPreferences:
    """The user's preferences; defaults (all sounds off, system notifications asked for)."""
    return _from_row(await db.get(UserSettings, user_id))


async def save_preferences(
    db: AsyncSession,
    user_id: int,
    *,
    sounds: Mapping[SoundEvent, bool],
    system_notifications: bool,
    ask_permission: bool,
) -> None:
    """Store the Einstellungen form; the caller commits."""
    row = await _settings_row(db, user_id)
    row.sounds = {event.value: bool(sounds.get(event, False)) for event in SoundEvent}
    row.system_notifications = system_notifications
    row.ask_browser_permission = ask_permission
    row.updated_at = utcnow()


async def stop_asking(db: AsyncSession, user_id: int) -> None:
    """Store "Nicht mehr fragen": no browser of this user asks again; the caller commits."""
    row = await _settings_row(db, user_id)
    row.ask_browser_permission = False
    row.updated_at = utcnow()


def sign_in_mark(session_key: str) -> str:
    """A mark of one sign-in that a page may carry: "Nicht jetzt" holds until it changes.

    A digest of the session key, which itself never leaves the server.
    """
    return hashlib.sha256(f"permission-prompt:{session_key}".encode()).hexdigest()[:16]


async def _settings_row(db: AsyncSession, user_id: int) -> UserSettings:
    """The user's settings row, created if missing; two first saves at once cannot collide."""
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    await db.execute(
        insert(UserSettings)
        .values(user_id=user_id, sounds={}, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    row = await db.get(UserSettings, user_id, with_for_update=True, populate_existing=True)
    assert row is not None  # just inserted or already there
    return row
