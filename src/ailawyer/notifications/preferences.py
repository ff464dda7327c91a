"""A user's notification preferences: which sounds play, and the browser-notification answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import UserSettings, utcnow
from ailawyer.notifications.sounds import SoundEvent


class BrowserPermission(StrEnum):
    """The answer to "show system notifications?", as the browser's Notification API names it."""

    GRANTED = "granted"
    DENIED = "denied"
    # Asked, but left undecided ("Nicht jetzt"): not asked again, changeable in Einstellungen.
    DEFAULT = "default"


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
    # None: never answered, so the browser asks once.
    browser_notifications: BrowserPermission | None

    def as_payload(self) -> dict[str, Any]:
        """JSON-ready dict for the browser."""
        return {
            "sounds": {event.value: on for event, on in self.sounds.items()},
            "browser_notifications": (
                self.browser_notifications.value if self.browser_notifications else None
            ),
        }


def _from_row(row: UserSettings | None) -> NotificationPreferences:
    stored = row.sounds if row is not None else {}
    permission = row.browser_notifications if row is not None else None
    return NotificationPreferences(
        sounds={event: stored.get(event.value) is True for event in SoundEvent},
        browser_notifications=BrowserPermission(permission) if permission else None,
    )


async def load_preferences(db: AsyncSession, user_id: int) -> NotificationPreferences:
    """The user's preferences; defaults (all sounds off, never asked) if none were saved."""
    return _from_row(await db.get(UserSettings, user_id))


async def save_sounds(db: AsyncSession, user_id: int, sounds: Mapping[SoundEvent, bool]) -> None:
    """Store which sounds play; the caller commits."""
    row = await _settings_row(db, user_id)
    row.sounds = {event.value: bool(sounds.get(event, False)) for event in SoundEvent}
    row.updated_at = utcnow()


async def save_browser_permission(
    db: AsyncSession, user_id: int, permission: BrowserPermission
) -> None:
    """Remember the browser-notification answer; the caller commits."""
    row = await _settings_row(db, user_id)
    row.browser_notifications = permission.value
    row.updated_at = utcnow()


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
