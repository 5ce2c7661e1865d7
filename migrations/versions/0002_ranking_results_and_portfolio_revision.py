"""Stored ranking runs per weight profile and portfolio revision, and the revision counter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 17:54:05.557679
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "portfolio_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_revision")),
    )
    op.create_table(
        "ranking_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("method_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["weight_profile.id"],
            name=op.f("fk_ranking_run_profile_id_weight_profile"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_run")),
        sa.UniqueConstraint(
            "profile_id",
            "profile_version",
            "revision",
            "method_version",
            name=op.f("uq_ranking_run_profile_id"),
        ),
    )
    op.create_table(
        "ranking_row",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("composite", sa.Float(), nullable=True),
        sa.Column("impact", sa.Float(), nullable=True),
        sa.Column("feasibility", sa.Float(), nullable=True),
        sa.Column("readiness", sa.Float(), nullable=True),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("score_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("effective_priority", sa.Float(), nullable=True),
        sa.Column("effective_mandatory", sa.Boolean(), nullable=False),
        sa.Column("p_top_k", sa.Float(), nullable=True),
        sa.Column("rank_p05", sa.Integer(), nullable=True),
        sa.Column("rank_p95", sa.Integer(), nullable=True),
        sa.Column("fragile", sa.Boolean(), nullable=False),
        sa.Column("unlock_value", sa.Float(), nullable=False),
        sa.Column("rice", sa.Float(), nullable=True),
        sa.Column("wsjf", sa.Float(), nullable=True),
        sa.Column(
            "bottleneck_dataset", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True
        ),
        sa.Column("blocked_by", sa.JSON(), nullable=False),
        sa.Column("unblocks", sa.JSON(), nullable=False),
        sa.Column("contributions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["project.id"],
            name=op.f("fk_ranking_row_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["ranking_run.id"],
            name=op.f("fk_ranking_row_run_id_ranking_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "project_id", name=op.f("pk_ranking_row")),
    )
    with op.batch_alter_table("ranking_row", schema=None) as batch_op:
        batch_op.create_index("ix_ranking_row_run_position", ["run_id", "position"], unique=True)
    # One row, moved on by every write; stored rankings name the revision they were made at.
    op.execute("INSERT INTO portfolio_revision (id, revision) VALUES (1, 0)")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("ranking_row", schema=None) as batch_op:
        batch_op.drop_index("ix_ranking_row_run_position")

    op.drop_table("ranking_row")
    op.drop_table("ranking_run")
    op.drop_table("portfolio_revision")
