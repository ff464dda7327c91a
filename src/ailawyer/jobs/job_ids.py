"""Which job ids a URL may name: the forms our queues issue, nothing else.

A job's id becomes part of bullmq's Redis keys (`<prefix>:<queue>:<id>`, `…:<id>:logs`), and
the queue's own keys live in the same space: `<prefix>:<queue>:events` is a stream,
`…:meta` a hash of settings, `…:id` a counter. A URL naming the job "events" made bullmq read
the stream as a job hash and answer with a Redis error (a 500); "dokument-1:logs" named the
log list of a job. So every route that takes a job id asks `is_job_id` first and answers 404
for anything else, before bullmq sees it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ailawyer.jobs.bullmq_adapter import KEY_SUFFIXES
from ailawyer.jobs.catalog import QUEUES, QueueDefinition

# Queues only found in Redis (another producer's): bullmq's counter, a custom id without a
# colon (bullmq refuses those), or a job scheduler's run. ASCII only: `str.isdigit` and
# `\d` also accept "²" and other digits int() or Redis read differently.
OTHER_QUEUES = re.compile(r"[A-Za-z0-9_.-]{1,200}|repeat:[A-Za-z0-9_.-]{1,100}:[0-9]{1,18}")


def is_job_id(
    queue_name: str, job_id: str, definitions: Mapping[str, QueueDefinition[Any]] = QUEUES
) -> bool:
    """Whether `job_id` has the form queue `queue_name` gives its jobs (never a bullmq key)."""
    # None of bullmq's key suffixes may ever be taken for a job id, whatever a form allows.
    if job_id in KEY_SUFFIXES:
        return False
    definition = definitions.get(queue_name)
    form = definition.job_ids if definition is not None else OTHER_QUEUES
    return form.fullmatch(job_id) is not None
