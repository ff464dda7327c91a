"""Two-stage shutdown: the first SIGTERM/SIGINT asks to stop, a second one to stop now."""

from __future__ import annotations

import asyncio
import signal

from ailawyer.logs import get_logger

log = get_logger("ailawyer.worker")


class StopSignals:
    """`stop` is set by the first signal (finish running jobs), `force` by the second."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.force = asyncio.Event()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Handle SIGTERM and SIGINT on `loop` (compose sends SIGTERM, a terminal SIGINT)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._received, signum)

    def _received(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if not self.stop.is_set():
            log.info("stop requested: finishing running jobs", signal=name)
            self.stop.set()
        else:
            log.warning("second stop signal: stopping now", signal=name)
            self.force.set()
