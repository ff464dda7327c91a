"""A job's attempts as a person reads them: automatic ones against their maximum, manual
retries apart ("4 von 4 automatisch, 2 × manuell wiederholt").

A manual retry (`ailawyer.jobs.retry`) starts a fresh series of automatic attempts:
bullmq's `attemptsMade` begins at 0 again and the retry is counted in the job's hash
(`bullmq_adapter.MANUAL_RETRIES_FIELD`). bullmq's own bulk retry (the administration's
"retry all failed" of the installation's queues) neither resets nor counts: every run it
made beyond the maximum was started by hand, and counts as such here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attempts:
    """Automatic attempts of the current series (never more than `maximum`) and manual retries."""

    automatic: int
    maximum: int
    manual: int

    @property
    def text(self) -> str:
        """ "4 von 4 automatisch" or "4 von 4 automatisch, 2 × manuell wiederholt"."""
        automatic = f"{self.automatic} von {self.maximum} automatisch"
        return f"{automatic}, {self.manual} × manuell wiederholt" if self.manual else automatic


def count_attempts(made: int, maximum: int, manual_retries: int) -> Attempts:
    """`made` runs bullmq counted, of `maximum` attempts, after `manual_retries` counted ones."""
    beyond = max(0, made - maximum)
    return Attempts(automatic=made - beyond, maximum=maximum, manual=max(manual_retries, beyond))
