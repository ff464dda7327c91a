"""Every queue, declared once: name, payload type, processor, default concurrency, hooks.

The worker runs each declared queue, `JobQueues.enqueue` validates payloads against it,
the retry API asks its hooks, and the admin explorer lists it (plus any queue it only
finds in Redis). Default job options are the same for every queue (`jobs.options`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ailawyer.jobs.context import JobContext
from ailawyer.jobs.errors import InvalidPayloadError, UnknownQueueError
from ailawyer.jobs.payloads import AdminTestPayload, DokumentPayload, JobPayload, SystemTaskPayload
from ailawyer.worker.processors.admin_test import run_admin_test
from ailawyer.worker.processors.dokumente import (
    process_dokument,
    record_dokument_failure,
    reset_dokument_for_retry,
)
from ailawyer.worker.processors.system import run_system_task

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.services import Services

P = TypeVar("P", bound=JobPayload)

Processor = Callable[[JobContext, P], Awaitable[Any]]
# Called once a job has failed for good, with the full error text, to record the failure in
# the given transaction; the administrators' notice is staged in the same one, so a crash
# cannot record the failure and lose the notice (`worker.failures`). Returns False when the
# failure was already recorded (a run repeated after a stall), so nobody is told twice.
FailureHook = Callable[[JobContext, P, str, "AsyncSession"], Awaitable[bool]]
# Called by the retry API before a failed job goes back to waiting.
RetryHook = Callable[["Services", P], Awaitable[None]]


@dataclass(frozen=True)
class QueueDefinition(Generic[P]):
    """One queue and everything the worker, the API and the explorer need to know about it."""

    name: str
    label: str
    payload_type: type[P]
    processor: Processor[P]
    default_concurrency: int
    job_name: str
    # The ids this queue's jobs get (`ailawyer.jobs.job_ids` checks every id a URL names
    # against it): bullmq's own counter ("17"), or the id the enqueuer chose.
    job_ids: re.Pattern[str]
    # Whether its jobs belong to a Kanzlei (payload `kanzleiId`, required on enqueue) and
    # are shown to that Kanzlei's ADMIN; the other queues' jobs are the installation's.
    kanzlei_jobs: bool = False
    on_final_failure: FailureHook[P] | None = None
    on_retry: RetryHook[P] | None = None

    def validate_payload(self, payload: BaseModel | Mapping[str, Any]) -> P:
        """The payload as this queue's type; anything else raises InvalidPayloadError."""
        if isinstance(payload, BaseModel):
            if type(payload) is not self.payload_type:
                raise InvalidPayloadError(
                    f"queue {self.name!r} takes {self.payload_type.__name__}, "
                    f"not {type(payload).__name__}"
                )
            return payload  # type: ignore[return-value]  # checked just above
        try:
            return self.payload_type.model_validate(payload)
        except ValidationError as error:
            message = f"invalid payload for queue {self.name!r}: {error}"
            raise InvalidPayloadError(message) from error


DOKUMENTE: QueueDefinition[DokumentPayload] = QueueDefinition(
    name="dokumente",
    label="PDF-Verarbeitung",
    payload_type=DokumentPayload,
    processor=process_dokument,
    default_concurrency=4,
    job_name="pdf-verarbeitung",
    # ailawyer.dokumente.upload.dokument_job_id; ASCII digits only (`\d` also takes "²").
    job_ids=re.compile(r"dokument-[0-9]{1,18}"),
    kanzlei_jobs=True,
    on_final_failure=record_dokument_failure,
    on_retry=reset_dokument_for_retry,
)
SYSTEM: QueueDefinition[SystemTaskPayload] = QueueDefinition(
    name="system",
    label="Wartung",
    payload_type=SystemTaskPayload,
    processor=run_system_task,
    default_concurrency=1,
    job_name="wartung",
    # A scheduler's runs are "repeat:<scheduler id>:<time>" (bullmq's job_scheduler.py).
    job_ids=re.compile(r"[0-9]{1,18}|repeat:[A-Za-z0-9_-]{1,100}:[0-9]{1,18}"),
)
ADMIN_TEST: QueueDefinition[AdminTestPayload] = QueueDefinition(
    name="test",
    label="Testvorgang",
    payload_type=AdminTestPayload,
    processor=run_admin_test,
    default_concurrency=2,
    job_name="testvorgang",
    job_ids=re.compile(r"[0-9]{1,18}"),
)

QUEUES: Mapping[str, QueueDefinition[Any]] = {q.name: q for q in (DOKUMENTE, SYSTEM, ADMIN_TEST)}


def get_queue_definition(
    name: str, definitions: Mapping[str, QueueDefinition[Any]] = QUEUES
) -> QueueDefinition[Any]:
    """The declared queue `name`, or UnknownQueueError."""
    try:
        return definitions[name]
    except KeyError:
        raise UnknownQueueError(name) from None
