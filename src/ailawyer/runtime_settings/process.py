"""What every process (app and worker) does with the runtime settings at start-up."""

from __future__ import annotations

from ailawyer.logs import follow_level_setting
from ailawyer.runtime_settings.definitions import LOG_LEVEL
from ailawyer.runtime_settings.service import RuntimeSettings


async def follow_runtime_settings(runtime: RuntimeSettings) -> None:
    """Load the current values, follow changes, and apply those every process applies."""
    await runtime.start()
    # Unless LOG_LEVEL pins this process's level (ailawyer.logs decides).
    await runtime.watch(LOG_LEVEL, follow_level_setting)
