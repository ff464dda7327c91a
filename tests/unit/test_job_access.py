"""Who may see and act on a job (ailawyer.jobs.access), as a table, and the job ids a URL may
name (ailawyer.jobs.job_ids)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ailawyer.domain.roles import Role
from ailawyer.jobs.access import (
    EVERY_JOB,
    JobOwner,
    JobScope,
    Verdict,
    explorer_scope,
    job_owner,
    job_verdict,
    may_run_queue_actions,
    queue_verdict,
    queues_in_scope,
)
from ailawyer.jobs.job_ids import is_job_id

A, B = 1, 2
ALLOWED, FORBIDDEN, HIDDEN = Verdict.ALLOWED, Verdict.FORBIDDEN, Verdict.HIDDEN


@dataclass(frozen=True)
class Person:
    id: int
    kanzlei_id: int
    role: Role
    aktiv: bool = True
    is_operator: bool = False


OPERATOR = Person(10, 3, Role.ADMIN, is_operator=True)
ADMIN_A = Person(11, A, Role.ADMIN)
ADMIN_B = Person(12, B, Role.ADMIN)
ANWALT_A = Person(13, A, Role.ANWALT)
FORMER_OPERATOR = Person(14, 3, Role.ADMIN, aktiv=False, is_operator=True)

JOB_OF_A = JobOwner(kanzlei_id=A, user_id=ANWALT_A.id, akte_id=5)
JOB_OF_NO_KANZLEI = JobOwner(kanzlei_id=None, user_id=OPERATOR.id, akte_id=None)


@pytest.mark.parametrize(
    ("person", "of_a", "of_no_kanzlei"),
    [
        (OPERATOR, ALLOWED, ALLOWED),
        (ADMIN_A, ALLOWED, FORBIDDEN),
        (ADMIN_B, HIDDEN, FORBIDDEN),
        (ANWALT_A, FORBIDDEN, FORBIDDEN),
        (FORMER_OPERATOR, HIDDEN, HIDDEN),
    ],
    ids=["operator", "admin_a", "admin_b", "anwalt_a", "inactive"],
)
def test_who_sees_and_acts_on_a_job_in_the_explorer(
    person: Person, of_a: Verdict, of_no_kanzlei: Verdict
) -> None:
    assert job_verdict(person, JOB_OF_A) is of_a
    assert job_verdict(person, JOB_OF_NO_KANZLEI) is of_no_kanzlei


@pytest.mark.parametrize(
    ("person", "scope", "queue_actions", "dokumente", "system"),
    [
        (OPERATOR, EVERY_JOB, True, ALLOWED, ALLOWED),
        (ADMIN_A, JobScope(A), False, ALLOWED, FORBIDDEN),
        (ANWALT_A, None, False, FORBIDDEN, FORBIDDEN),
        (FORMER_OPERATOR, None, False, FORBIDDEN, FORBIDDEN),
    ],
    ids=["operator", "admin_a", "anwalt_a", "inactive"],
)
def test_who_uses_the_explorer_and_its_queue_level_actions(
    person: Person,
    scope: JobScope | None,
    queue_actions: bool,
    dokumente: Verdict,
    system: Verdict,
) -> None:
    assert explorer_scope(person) == scope
    assert may_run_queue_actions(person) is queue_actions
    assert (queue_verdict(person, "dokumente"), queue_verdict(person, "system")) == (
        dokumente,
        system,
    )


def test_a_kanzlei_sees_only_the_queues_of_kanzlei_jobs() -> None:
    names = ["dokumente", "probe-1", "system", "test"]

    assert queues_in_scope(JobScope(A), names) == ["dokumente"]
    assert queues_in_scope(EVERY_JOB, names) == names


def test_only_a_queue_of_kanzlei_jobs_gives_a_job_a_kanzlei() -> None:
    data = {"kanzleiId": A, "akteId": 5, "userId": 7}

    assert job_owner("dokumente", data) == JobOwner(A, 7, 5)
    # The same field in another queue's data means nothing (anybody can write job data).
    assert job_owner("test", data).kanzlei_id is None
    assert job_owner("probe-1", data).kanzlei_id is None
    # Data that is no payload at all, or ids that are no ids.
    assert job_owner("dokumente", None) == JobOwner(None, None, None)
    assert job_owner("dokumente", {"kanzleiId": True, "akteId": "5"}) == JobOwner(None, None, None)


@pytest.mark.parametrize(
    ("queue", "job_id", "valid"),
    [
        ("dokumente", "dokument-17", True),
        ("dokumente", "17", False),
        ("dokumente", "dokument-17:logs", False),
        ("dokumente", "dokument-²", False),
        ("dokumente", "dokument-17\n", False),
        ("test", "17", True),
        ("test", "events", False),
        ("test", "١٧", False),
        ("system", "17", True),
        ("system", "repeat:retention-cleanup:1780000000000", True),
        ("system", "repeat:retention-cleanup", False),
        ("system", "meta", False),
        ("probe-1", "a-custom.id_1", True),
        ("probe-1", "repeat:x:12", True),
        ("probe-1", "events", False),
        ("probe-1", "stalled-check", False),
        ("probe-1", "a:b", False),
        ("probe-1", "", False),
        ("probe-1", "x" * 201, False),
    ],
)
def test_a_url_may_name_only_the_job_ids_a_queue_issues(
    queue: str, job_id: str, valid: bool
) -> None:
    assert is_job_id(queue, job_id) is valid
