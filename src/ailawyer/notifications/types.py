"""Notification types, each declared once with the sound it plays.

A notification names its type by key; `NotificationService` refuses keys that were
never declared, so a typo fails loudly instead of creating a type nobody handles.
Features declare their own types next to their code with `declare()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ailawyer.notifications.sounds import SoundEvent


@dataclass(frozen=True, slots=True)
class NotificationType:
    key: str
    # The sound the browser plays for it, if the user switched that sound on.
    sound: SoundEvent | None = None


_registry: dict[str, NotificationType] = {}
REGISTRY: Mapping[str, NotificationType] = MappingProxyType(_registry)


def declare(key: str, *, sound: SoundEvent | None = None) -> NotificationType:
    """Declare a notification type; declaring a key twice is a programming error."""
    if key in _registry:
        raise ValueError(f"notification type {key!r} is already declared")
    declared = NotificationType(key, sound)
    _registry[key] = declared
    return declared


def resolve(kind: NotificationType | str) -> NotificationType:
    """The declared type for a key (or the type itself); KeyError for undeclared keys."""
    key = kind.key if isinstance(kind, NotificationType) else kind
    try:
        return _registry[key]
    except KeyError:
        raise KeyError(f"undeclared notification type {key!r}; declare() it first") from None


# A background step for the user finished (e.g. a Dokument was processed).
JOB_COMPLETED = declare("job.completed", sound=SoundEvent.JOB_COMPLETED)
# ... failed for good: the user gets a friendly message and a retry action.
JOB_FAILED = declare("job.failed", sound=SoundEvent.JOB_FAILED)
# ... and every ADMIN gets the technical detail.
JOB_FAILED_ADMIN = declare("job.failed.admin", sound=SoundEvent.SYSTEM_ALERT)
# Something about the system an administrator should look at.
SYSTEM_ALERT = declare("system.alert", sound=SoundEvent.SYSTEM_ALERT)
# Plain information without a sound.
INFO = declare("info")
