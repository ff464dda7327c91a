"""What every process (app and worker) does with the runtime settings at start-up."""

from __future__ import annotations

from ailawyer.logs import set_log_level
from ailawyer.runtime_settings.definitions import LOG_LEVEL
from ailawyer.runtime_settings.service import RuntimeSettings


async def follow_runtime_settings(runtime: RuntimeSettings) -> None:
    """Load the current values, follow changes, and apply those every process applies."""
    await runtime.start()
    await runtime.watch(LOG_LEVEL, set_log_level)
