"""The sounds a notification can play, and their file names (the browser and the build read both).

Domain data, shared by the notification types, the preferences and the app that serves the
files; the synthesis of the sounds lives in `ailawyer.app.sounds`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class SoundEvent(StrEnum):
    """Event types the browser plays a sound for."""

    JOB_COMPLETED = "job-completed"
    JOB_FAILED = "job-failed"
    SYSTEM_ALERT = "system-alert"


# The one place that names the files.
SOUND_FILES: Mapping[SoundEvent, str] = MappingProxyType(
    {event: f"{event.value}.wav" for event in SoundEvent}
)
