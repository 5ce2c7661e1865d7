"""Ranking rows carry their view (candidates or committed) and their rank in it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Stored runs are caches of an older method: they are recomputed on the next read.
    op.execute("DELETE FROM ranking_row")
    op.execute("DELETE FROM ranking_run")
    with op.batch_alter_table("ranking_row", schema=None, recreate="always") as batch_op:
        batch_op.add_column(
            sa.Column("backlog_view", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False))
        batch_op.add_column(sa.Column("view_position", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("blocked_by_other_view", sa.JSON(), nullable=False))
        batch_op.create_index("ix_ranking_row_run_view_position",
                              ["run_id", "backlog_view", "view_position"], unique=True)
        batch_op.create_check_constraint(
            op.f("ck_ranking_row_view"), "backlog_view IN ('candidates', 'committed')")


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DELETE FROM ranking_row")
    op.execute("DELETE FROM ranking_run")
    with op.batch_alter_table("ranking_row", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_ranking_row_view"), type_="check")
        batch_op.drop_index("ix_ranking_row_run_view_position")
        batch_op.drop_column("blocked_by_other_view")
        batch_op.drop_column("view_position")
        batch_op.drop_column("backlog_view")
