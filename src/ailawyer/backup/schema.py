"""The Alembic revisions this code knows; a backup from a newer schema cannot be restored."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from ailawyer.db.migrate import alembic_config


def _scripts() -> ScriptDirectory:
    # The migrations directory only; no database is contacted.
    return ScriptDirectory.from_config(alembic_config(""))


def head_revision() -> str:
    """The newest revision of this code's one migration history."""
    head = _scripts().get_current_head()
    assert head is not None, "the migration history is empty"
    return head


def knows(revision: str) -> bool:
    """Whether `revision` is in this code's history (then it is the head or older)."""
    return any(script.revision == revision for script in _scripts().walk_revisions())
