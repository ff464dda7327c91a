"""Search jobs by what a person knows: a file name, an Aktenzeichen, a Kurzrubrum, a name.

Job payloads hold ids only (`dokumentId`, `akteId`, `userId`), rightly: no client data in
Redis. So a search term is also looked up in the database, among the rows the searching
administrator may see (the operator every Kanzlei's, a Kanzlei's ADMIN its own), and the
explorer's search script matches the jobs naming those ids
(`bullmq_adapter.SearchScript.match_text`). The Redis search stays scoped to the Kanzlei as
before, so a row found here never shows another Kanzlei's job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.models import Akte, Dokument, User
from ailawyer.jobs.access import JobScope

# Shorter terms match too much to be worth the lookup ("a" is in every file name).
MIN_TERM_LENGTH = 3
# Rows per kind a term may name; beyond that the term is too vague to say which jobs.
MAX_ROWS = 200
Reference = tuple[str, int]


async def rows_named_by(db: AsyncSession, term: str, scope: JobScope) -> frozenset[Reference]:
    """(payload field, id) of each Dokument, Akte and person in `scope` whose file name,
    Aktenzeichen, Kurzrubrum, name or e-mail contains `term` (case-insensitive)."""
    term = term.strip()
    if len(term) < MIN_TERM_LENGTH:
        return frozenset()
    dokumente = select(Dokument.id).join(Akte, Akte.id == Dokument.akte_id)
    akten = select(Akte.id)
    people = select(User.id)
    if not scope.everything:
        dokumente = dokumente.where(Akte.kanzlei_id == scope.kanzlei_id)
        akten = akten.where(Akte.kanzlei_id == scope.kanzlei_id)
        people = people.where(User.kanzlei_id == scope.kanzlei_id)
    found: set[Reference] = set()

    def containing(*columns: Any) -> ColumnElement[bool]:
        return or_(*(column.icontains(term, autoescape=True) for column in columns))

    for field, query in (
        ("dokumentId", dokumente.where(containing(Dokument.dateiname))),
        ("akteId", akten.where(containing(Akte.aktenzeichen, Akte.kurzrubrum))),
        ("userId", people.where(containing(User.name, User.email))),
    ):
        found.update((field, row_id) for row_id in await _ids(db, query))
    return frozenset(found)


async def _ids(db: AsyncSession, query: Select[tuple[int]]) -> list[int]:
    return list((await db.scalars(query.limit(MAX_ROWS))).all())
