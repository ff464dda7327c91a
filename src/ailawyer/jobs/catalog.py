"""Every queue, declared once as plain data: name, label, payload type, concurrency, job ids.

Everyone names queues through this catalog: upload and recovery enqueue by it,
`JobQueues.enqueue` validates payloads against it, the runtime settings derive each
queue's concurrency setting from it, the explorer lists it (plus any queue it only finds
in Redis), and job access asks it whose jobs a queue holds. What runs a queue's jobs is
bound to these entries by the process that runs them (`ailawyer.worker.bindings`), so
importing the catalog loads no worker, no bullmq and no Socket.IO (docs/ARCHITECTURE.md,
"Layers and what imports what"). Default job options are the same for every queue
(`jobs.options`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ailawyer.jobs.errors import InvalidPayloadError, UnknownQueueError
from ailawyer.jobs.payloads import AdminTestPayload, DokumentPayload, JobPayload, SystemTaskPayload

P = TypeVar("P", bound=JobPayload)


@dataclass(frozen=True)
class QueueDefinition(Generic[P]):
    """One queue as the app, the worker and the explorer know it."""

    name: str
    # German, for the explorer and the settings page.
    label: str
    payload_type: type[P]
    # Jobs one worker process runs at once, until the runtime setting says otherwise.
    default_concurrency: int
    job_name: str
    # The ids this queue's jobs get (`ailawyer.jobs.job_ids` checks every id a URL names
    # against it): bullmq's own counter ("17"), or the id the enqueuer chose.
    job_ids: re.Pattern[str]
    # Whether its jobs belong to a Kanzlei (payload `kanzleiId`, required on enqueue) and
    # are shown to that Kanzlei's ADMIN; the other queues' jobs are the installation's.
    kanzlei_jobs: bool = False

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
    default_concurrency=4,
    job_name="pdf-verarbeitung",
    # ailawyer.dokumente.upload.dokument_job_id; ASCII digits only (`\d` also takes "²").
    job_ids=re.compile(r"dokument-[0-9]{1,18}"),
    kanzlei_jobs=True,
)
SYSTEM: QueueDefinition[SystemTaskPayload] = QueueDefinition(
    name="system",
    label="Wartung",
    payload_type=SystemTaskPayload,
    default_concurrency=1,
    job_name="wartung",
    # A scheduler's runs are "repeat:<scheduler id>:<time>" (bullmq's job_scheduler.py).
    job_ids=re.compile(r"[0-9]{1,18}|repeat:[A-Za-z0-9_-]{1,100}:[0-9]{1,18}"),
)
ADMIN_TEST: QueueDefinition[AdminTestPayload] = QueueDefinition(
    name="test",
    label="Testvorgang",
    payload_type=AdminTestPayload,
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
