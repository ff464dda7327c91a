"""Errors of the job API, each with a message the caller can show or log."""

from __future__ import annotations


class JobError(Exception):
    """Base of the errors below."""


class UnknownQueueError(JobError):
    """No queue of that name is declared."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown queue {name!r}")
        self.name = name


class InvalidPayloadError(JobError):
    """The payload does not match the queue's payload type."""


class JobNotFoundError(JobError):
    """No job with that id in that queue (or it was removed by retention)."""


class JobAccessDeniedError(JobError):
    """The user may not act on that job."""


class JobNotRetryableError(JobError):
    """Only a failed job can be retried."""
