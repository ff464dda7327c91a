"""Typed job payloads: ids and parameters only, never personal data (names, document text).

Payloads are stored in Redis as camelCase JSON (`{"dokumentId": 7, "akteId": 3}`), the
shape the explorer shows (and a Node producer would write). Unknown fields are refused,
so nobody can slip a name or a text into a job by adding a key.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class JobPayload(BaseModel):
    """Base of every payload; `kanzlei_id`, `user_id` and `akte_id` say whose job it is."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )

    # The Kanzlei the job belongs to: set exactly for the queues declared to hold Kanzlei
    # jobs (`QueueDefinition.kanzlei_jobs`, checked by `JobQueues.enqueue`). Its ADMIN sees
    # the job in the explorer; a job without one is the installation's (operator only).
    # Optional in the type only because jobs enqueued before it existed lack it
    # (`ailawyer.jobs.access.resolve_owner` derives theirs from the Akte).
    kanzlei_id: int | None = None
    # The user who caused the job: may retry it and gets its notifications.
    user_id: int | None = None
    # The Akte the job works on: retrying it requires access to that Akte.
    akte_id: int | None = None

    def to_job_data(self) -> dict[str, Any]:
        """The JSON stored with the job in Redis."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class DokumentPayload(JobPayload):
    """Process one uploaded PDF."""

    dokument_id: int
    akte_id: int


class SystemTaskPayload(JobPayload):
    """A maintenance task of the system queue."""

    task: Literal["retention-cleanup", "dokumente-recovery"]


class AdminTestPayload(JobPayload):
    """The admin's test job: runs `duration_ms` in `steps` progress steps, fails if asked."""

    duration_ms: int = Field(default=1000, ge=0, le=10 * 60 * 1000)
    steps: int = Field(default=5, ge=1, le=100)
    # "first-attempt" fails once and succeeds on the automatic retry.
    failure: Literal["never", "always", "first-attempt"] = "never"
