"""Profiles can be retired and each version records how it was made; scenarios are saved plans.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("weight_profile", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("profile_revision", schema=None) as batch_op:
        # Versions saved before this revision were all set directly.
        batch_op.add_column(sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=16),
                                      nullable=False, server_default="direct"))
        batch_op.add_column(sa.Column("ahp_matrix", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("consistency_ratio", sa.Float(), nullable=True))
        batch_op.create_check_constraint("method", "method IN ('direct', 'ahp')")
    op.create_table(
        "scenario",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("budget_gbp", sa.Float(), nullable=False),
        sa.Column("capacity_pm", sa.Float(), nullable=False),
        sa.Column("force_in", sa.JSON(), nullable=False),
        sa.Column("force_out", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("budget_gbp >= 0", name=op.f("ck_scenario_budget_non_negative")),
        sa.CheckConstraint("capacity_pm >= 0", name=op.f("ck_scenario_capacity_non_negative")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_scenario_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["profile_id"], ["weight_profile.id"],
                                name=op.f("fk_scenario_profile_id_weight_profile"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scenario")),
        sa.UniqueConstraint("name", name=op.f("uq_scenario_name")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("scenario")
    with op.batch_alter_table("profile_revision", schema=None) as batch_op:
        batch_op.drop_constraint("method", type_="check")
        batch_op.drop_column("consistency_ratio")
        batch_op.drop_column("ahp_matrix")
        batch_op.drop_column("method")
    with op.batch_alter_table("weight_profile", schema=None) as batch_op:
        batch_op.drop_column("retired_at")
