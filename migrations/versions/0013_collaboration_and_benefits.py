"""Realised benefits of delivered projects, and collaboration suggestions set aside.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "benefit_realisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("people_reached", sa.Integer(), nullable=True),
        sa.Column("savings_gbp", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("review", sa.Text(), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("estimated_reach_people", sa.Integer(), nullable=True),
        sa.Column("estimated_reach_level", sa.Integer(), nullable=True),
        sa.Column("estimated_savings_level", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("length(outcome) > 0", name=op.f("ck_benefit_realisation_outcome_given")),
        sa.CheckConstraint("people_reached IS NULL OR people_reached >= 0",
                           name=op.f("ck_benefit_realisation_reach_non_negative")),
        sa.CheckConstraint("savings_gbp IS NULL OR savings_gbp >= 0",
                           name=op.f("ck_benefit_realisation_savings_non_negative")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_benefit_realisation_version_positive")),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"],
                                name=op.f("fk_benefit_realisation_project_id_project"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"],
                                name=op.f("fk_benefit_realisation_recorded_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_realisation")),
        sa.UniqueConstraint("project_id", name=op.f("uq_benefit_realisation_project_id")),
    )
    op.create_table(
        "dismissed_suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("members", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("dismissed_by_id", sa.Integer(), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_dismissed_suggestion_reason_given")),
        sa.ForeignKeyConstraint(["dismissed_by_id"], ["user_account.id"],
                                name=op.f("fk_dismissed_suggestion_dismissed_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dismissed_suggestion")),
        sa.UniqueConstraint("members", name=op.f("uq_dismissed_suggestion_members")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("dismissed_suggestion")
    op.drop_table("benefit_realisation")
