"""What runs each queue's jobs: processors and final-failure hooks, bound to catalog entries.

The catalog (`ailawyer.jobs.catalog`) is plain data every process imports; only the worker
process imports this module, and with it the processors (docs/ARCHITECTURE.md, "Layers
and what imports what").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ailawyer.jobs.catalog import ADMIN_TEST, DOKUMENTE, SYSTEM, QueueDefinition
from ailawyer.jobs.context import JobContext
from ailawyer.jobs.payloads import JobPayload
from ailawyer.worker.processors.admin_test import run_admin_test
from ailawyer.worker.processors.dokumente import process_dokument, record_dokument_failure
from ailawyer.worker.processors.system import run_system_task

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

P = TypeVar("P", bound=JobPayload)

Processor = Callable[[JobContext, P], Awaitable[Any]]
# Called once a job has failed for good, with the full error text, to record the failure in
# the given transaction; the administrators' notice is staged in the same one, so a crash
# cannot record the failure and lose the notice (`worker.failures`). Returns False when the
# failure was already recorded (a run repeated after a stall), so nobody is told twice.
FailureHook = Callable[[JobContext, P, str, "AsyncSession"], Awaitable[bool]]


@dataclass(frozen=True)
class QueueBinding(Generic[P]):
    """A catalog entry and the code this process runs for its jobs."""

    definition: QueueDefinition[P]
    processor: Processor[P]
    on_final_failure: FailureHook[P] | None = None

    @property
    def name(self) -> str:
        return self.definition.name


BINDINGS: Mapping[str, QueueBinding[Any]] = {
    binding.name: binding
    for binding in (
        QueueBinding(DOKUMENTE, process_dokument, on_final_failure=record_dokument_failure),
        QueueBinding(SYSTEM, run_system_task),
        QueueBinding(ADMIN_TEST, run_admin_test),
    )
}
