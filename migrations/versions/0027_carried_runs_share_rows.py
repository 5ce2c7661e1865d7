"""A carried ranking run reads the rows of the run it was carried from instead of a copy.

A run whose `rows_run_id` is set stores no rows of its own: its rows are that run's, which
nothing changes while it is referenced (DESIGN.md, "When the ranking is computed again").

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ranking_run") as batch:
        batch.add_column(sa.Column("rows_run_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # A run without rows of its own cannot be kept without the column that says whose it reads.
    op.execute("DELETE FROM ranking_run WHERE rows_run_id IS NOT NULL")
    # SQLite rebuilds the table to drop a column: it keeps AUTOINCREMENT only when told (0024).
    with op.batch_alter_table("ranking_run",
                              table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("rows_run_id")
