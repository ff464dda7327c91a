"""How many ids one `IN (…)` list may carry, for every query that selects by many ids.

Each id is one bound parameter, and older SQLite builds refuse more than 999 in one
statement (PostgreSQL: 32,767); 500 leaves room for the statement's other parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

IN_LIST_MAX = 500


def id_batches(ids: Iterable[int]) -> list[list[int]]:
    """The distinct `ids`, sorted, in batches of at most IN_LIST_MAX."""
    ordered = sorted(set(ids))
    return [ordered[start : start + IN_LIST_MAX] for start in range(0, len(ordered), IN_LIST_MAX)]
