"""dokument: the uploader's failure reason and the automatic retry that is due

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("failure_reason", "next_attempt", "max_attempts", "next_attempt_at")


def upgrade() -> None:
    # batch_alter_table: SQLite cannot ALTER a table beyond adding a plain column.
    with op.batch_alter_table("dokument") as batch:
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("next_attempt", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_attempts", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dokument") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
