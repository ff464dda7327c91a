"""user_settings: system notifications wanted, and "Nicht mehr fragen", instead of one answer

The browser's permission is asked in every browser and kept there; the server keeps only
what belongs to the person. "denied" meant "Nicht anzeigen" in the Einstellungen (or a
browser's "no"): it becomes system notifications off. "granted" and "default" become on,
so browsers that were never asked now ask.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

user_settings = sa.table(
    "user_settings",
    sa.column("browser_notifications", sa.String),
    sa.column("system_notifications", sa.Boolean),
    sa.column("ask_browser_permission", sa.Boolean),
)


def upgrade() -> None:
    # batch_alter_table: SQLite cannot drop a column with a plain ALTER TABLE.
    with op.batch_alter_table("user_settings") as batch:
        batch.add_column(
            sa.Column(
                "system_notifications", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )
        batch.add_column(
            sa.Column(
                "ask_browser_permission", sa.Boolean(), server_default=sa.true(), nullable=False
            )
        )
    op.execute(
        user_settings.update()
        .where(user_settings.c.browser_notifications == "denied")
        .values(system_notifications=False)
    )
    with op.batch_alter_table("user_settings") as batch:
        batch.drop_column("browser_notifications")


def downgrade() -> None:
    # Which browsers allowed them is not known here: "off" goes back as "denied", the rest
    # as never answered.
    with op.batch_alter_table("user_settings") as batch:
        batch.add_column(sa.Column("browser_notifications", sa.String(length=16), nullable=True))
    op.execute(
        user_settings.update()
        .where(user_settings.c.system_notifications == sa.false())
        .values(browser_notifications="denied")
    )
    with op.batch_alter_table("user_settings") as batch:
        batch.drop_column("ask_browser_permission")
        batch.drop_column("system_notifications")
