"""Who may see and act on a job: decided here and nowhere else (as `domain/access.py` for Akten).

Every job route asks these functions: the retry API (`/api/jobs/…/retry`), every page and
action of the job explorer (`app/web/admin/jobs`), and the Socket.IO join of its live room.

- A job belongs to a Kanzlei when its queue holds Kanzlei jobs (`QueueDefinition.kanzlei_jobs`)
  and its payload names the Kanzlei (`kanzleiId`). Every other job (the system queue, test
  jobs, queues only found in Redis) belongs to the installation.
- The operator ("Betreiber") sees and acts on every job and every queue.
- A Kanzlei's ADMIN sees its own Kanzlei's jobs, in the queues of Kanzlei jobs, and may retry,
  remove and promote them. Another Kanzlei's job answers as if it did not exist (404, like an
  Akte); a job or queue of the installation, and every queue-level action (pause, resume,
  clean a state, retry all failed, the test job), is refused (403).
- The retry API also lets the job's own user retry it, with access to the job's Akte.
- Adding a job, duplicating one or editing a waiting one's data: the operator in every
  declared queue; a Kanzlei's ADMIN in the queues of Kanzlei jobs, always as a job of its own
  Kanzlei (`kanzlei_of_new_job`) and naming only Akten, Dokumente and people it may see
  (`unseen_references`). Job schedulers are queue-level: the operator's.

Each question is one small function so the answers can be stated as a table (README "Who may
do what"); none imports a web framework, so the app and the worker ask the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, Dokument, Kanzlei, User, is_id
from ailawyer.domain.access import Principal, can_access_akte, get_akte_for_user
from ailawyer.domain.roles import Role
from ailawyer.jobs.catalog import QUEUES, QueueDefinition
from ailawyer.jobs.payloads import JobPayload

T = TypeVar("T")


class Verdict(Enum):
    """The answer to "may this person see or do this to the job?"."""

    ALLOWED = "allowed"
    # Seen but not theirs to act on (403): the installation's jobs and queues, or a colleague's job.
    FORBIDDEN = "forbidden"
    # Another Kanzlei's: answered as if it did not exist (404), so its existence stays secret.
    HIDDEN = "hidden"


# What job decisions need to know about a user: the one Principal of domain/access.py.
JobPrincipal = Principal


@dataclass(frozen=True)
class JobScope:
    """Whose jobs one person sees in the explorer: every job, or one Kanzlei's."""

    kanzlei_id: int | None

    @property
    def everything(self) -> bool:
        return self.kanzlei_id is None


# The operator's scope.
EVERY_JOB = JobScope(None)


class JobOwner(NamedTuple):
    """Whom a job belongs to, read from its queue and payload.

    A named tuple: the worker reads one per job and listener call (a frozen dataclass's
    construction cost several times as much, bench/RESULTS.md issue 15).
    """

    kanzlei_id: int | None
    user_id: int | None
    akte_id: int | None


def is_operator(user: JobPrincipal) -> bool:
    """The installation's operator (an active user with the flag)."""
    return user.aktiv and user.is_operator


def explorer_scope(user: JobPrincipal) -> JobScope | None:
    """The jobs `user` sees in the explorer; None: no explorer at all (not an ADMIN)."""
    if is_operator(user):
        return EVERY_JOB
    if user.aktiv and user.role is Role.ADMIN:
        return JobScope(user.kanzlei_id)
    return None


def may_run_queue_actions(user: JobPrincipal) -> bool:
    """Pause/resume, clean a state, retry all failed, start a test job: they act on every
    Kanzlei's jobs at once, so only the operator may."""
    return is_operator(user)


def holds_kanzlei_jobs(
    queue_name: str, definitions: Mapping[str, QueueDefinition[Any]] = QUEUES
) -> bool:
    """Whether a queue holds Kanzlei jobs (declared so); other queues hold the installation's."""
    definition = definitions.get(queue_name)
    return definition is not None and definition.kanzlei_jobs


def queue_verdict(user: JobPrincipal, queue_name: str) -> Verdict:
    """May `user` open a queue's pages (they show only the jobs of `explorer_scope`)?"""
    scope = explorer_scope(user)
    if scope is None:
        return Verdict.FORBIDDEN
    if scope.everything or holds_kanzlei_jobs(queue_name):
        return Verdict.ALLOWED
    return Verdict.FORBIDDEN


def queues_in_scope(scope: JobScope, names: Iterable[str]) -> list[str]:
    """The queues an explorer with `scope` lists."""
    return [name for name in names if scope.everything or holds_kanzlei_jobs(name)]


def job_owner(queue_name: str, data: Any) -> JobOwner:
    """Whom a job belongs to, from its raw data (lenient: job data is anybody's JSON).

    Only a queue of Kanzlei jobs can give a job a Kanzlei: a `kanzleiId` in another queue's
    data (a test job, a foreign producer's) means nothing.
    """
    payload = data if isinstance(data, Mapping) else {}
    kanzlei_id = _id(payload.get("kanzleiId")) if holds_kanzlei_jobs(queue_name) else None
    return JobOwner(
        kanzlei_id=kanzlei_id,
        user_id=_id(payload.get("userId")),
        akte_id=_id(payload.get("akteId")),
    )


async def resolve_owner(session: AsyncSession, queue_name: str, data: Any) -> JobOwner:
    """`job_owner`, and for a Kanzlei job enqueued before payloads named their Kanzlei, the
    Kanzlei of its Akte (jobs without either stay the installation's: operator only).

    Such jobs age out (completed after a day, failed after a week); until then they are found
    by id but not in a Kanzlei ADMIN's lists, which filter on the payload in Redis.
    """
    owner = job_owner(queue_name, data)
    if owner.kanzlei_id is None and owner.akte_id is not None and holds_kanzlei_jobs(queue_name):
        akte = await session.get(Akte, owner.akte_id)
        if akte is not None:
            return JobOwner(akte.kanzlei_id, owner.user_id, owner.akte_id)
    return owner


def job_verdict(user: JobPrincipal, owner: JobOwner) -> Verdict:
    """May `user` see one job in the explorer, and retry, remove or promote it there?"""
    if is_operator(user):
        return Verdict.ALLOWED
    if not user.aktiv:
        return Verdict.HIDDEN
    if owner.kanzlei_id is None:
        return Verdict.FORBIDDEN  # the installation's job
    if owner.kanzlei_id != user.kanzlei_id:
        return Verdict.HIDDEN
    return Verdict.ALLOWED if user.role is Role.ADMIN else Verdict.FORBIDDEN


async def retry_verdict(session: AsyncSession, user: JobPrincipal, owner: JobOwner) -> Verdict:
    """May `user` retry the job through the retry API (the notifications' button)?

    Whoever may act on it in the explorer, and besides the job's own user while they may
    see its Akte; every other member of the Kanzlei is refused (403).
    """
    verdict = job_verdict(user, owner)
    if verdict is not Verdict.FORBIDDEN or owner.kanzlei_id is None:
        return verdict
    if user.id != owner.user_id:
        return Verdict.FORBIDDEN
    if owner.akte_id is not None and await get_akte_for_user(session, user, owner.akte_id) is None:
        return Verdict.FORBIDDEN
    return Verdict.ALLOWED


def may_add_jobs(user: JobPrincipal, queue_name: str) -> Verdict:
    """May `user` add jobs to a queue (and duplicate its jobs there)? The operator to every
    declared queue, a Kanzlei's ADMIN to the queues of Kanzlei jobs (as jobs of its own)."""
    scope = explorer_scope(user)
    if scope is None or queue_name not in QUEUES:
        return Verdict.FORBIDDEN
    if scope.everything or holds_kanzlei_jobs(queue_name):
        return Verdict.ALLOWED
    return Verdict.FORBIDDEN


def kanzlei_of_new_job(user: JobPrincipal, queue_name: str) -> int | None:
    """The Kanzlei a job that `user` adds or edits in `queue_name` belongs to, whatever its
    data says: a Kanzlei ADMIN's own; None: as its data says (the operator's choice)."""
    if is_operator(user) or not holds_kanzlei_jobs(queue_name):
        return None
    return user.kanzlei_id


async def unseen_references(
    session: AsyncSession, user: JobPrincipal, queue_name: str, payload: JobPayload
) -> list[str]:
    """The payload fields (camelCase) naming a Kanzlei, Akte, Dokument or user that `user` may
    not name in a job of `queue_name`; empty if every one is fine.

    A job of a Kanzlei names only that Kanzlei's Akte, a Dokument of that Akte and that
    Kanzlei's people (its notifications go to them); a Kanzlei's ADMIN names only what it may
    see. A job of the installation (only the operator adds those) names rows that exist.
    Nothing tells apart "does not exist" from "not yours": the caller says the same for both.
    """
    kanzlei_jobs = holds_kanzlei_jobs(queue_name)
    operator = is_operator(user)

    def in_kanzlei(kanzlei_id: int) -> bool:
        return not kanzlei_jobs or kanzlei_id == payload.kanzlei_id

    unseen: list[str] = []
    if payload.kanzlei_id is not None and (
        not kanzlei_jobs  # a job of the installation belongs to no Kanzlei
        or (not operator and payload.kanzlei_id != user.kanzlei_id)
        or await _row(session, Kanzlei, payload.kanzlei_id) is None
    ):
        unseen.append("kanzleiId")
    akte = await _row(session, Akte, payload.akte_id)
    akte_ok = (
        akte is not None
        and in_kanzlei(akte.kanzlei_id)
        and (operator or can_access_akte(user, akte))
    )
    if payload.akte_id is not None and not akte_ok:
        unseen.append("akteId")
    dokument_id = getattr(payload, "dokument_id", None)
    if dokument_id is not None:
        dokument = await _row(session, Dokument, dokument_id)
        # A Dokument is seen through its Akte: the one the payload names.
        if dokument is None or not akte_ok or dokument.akte_id != payload.akte_id:
            unseen.append("dokumentId")
    if payload.user_id is not None:
        person = await _row(session, User, payload.user_id)
        if (
            person is None
            or not in_kanzlei(person.kanzlei_id)
            or (not operator and person.kanzlei_id != user.kanzlei_id)
        ):
            unseen.append("userId")
    return unseen


async def _row(session: AsyncSession, model: type[T], row_id: int | None) -> T | None:
    """The row `row_id` of `model`, None for no id or one no row can have."""
    if row_id is None or not is_id(row_id):
        return None
    return await session.get(model, row_id)


def _id(value: Any) -> int | None:
    """A positive integer id from job data (JSON true is no id)."""
    return value if type(value) is int and is_id(value) else None
