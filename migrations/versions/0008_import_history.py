"""Ranking runs stored in short batches (marked complete last) and the import history.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("ranking_run", schema=None) as batch_op:
        # Runs stored before this revision were written in one transaction: complete.
        batch_op.add_column(sa.Column("complete", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column("rows_stored", sa.Integer(), nullable=False,
                                      server_default="0"))
    with op.batch_alter_table("ranking_run", schema=None) as batch_op:
        batch_op.alter_column("complete", server_default=None)
        batch_op.alter_column("rows_stored", server_default=None)
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'imported', 'unchanged', 'checked', "
                           "'refused', 'failed')", name=op.f("ck_import_run_status")),
        sa.CheckConstraint("source IN ('page', 'api', 'cli')", name=op.f("ck_import_run_source")),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"],
                                name=op.f("fk_import_run_actor_id_user_account"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_run")),
    )
    op.create_index("ix_import_run_started", "import_run", ["started_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_import_run_started", table_name="import_run")
    op.drop_table("import_run")
    with op.batch_alter_table("ranking_run", schema=None) as batch_op:
        batch_op.drop_column("rows_stored")
        batch_op.drop_column("complete")
