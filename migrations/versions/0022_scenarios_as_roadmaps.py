"""Saved scenarios can be roadmaps: a kind, a horizon, a discount rate and deadlines.

A roadmap scenario's budget is per quarter and its overall capacity is optional (NULL: only
each organisation's stated capacity applies), so `capacity_pm` may now be empty.

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scenario") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False,
                                   server_default="plan"))
        batch.add_column(sa.Column("horizon", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("discount_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("deadlines", sa.JSON(), nullable=True))
        batch.alter_column("capacity_pm", existing_type=sa.Float(), nullable=True)
        batch.create_check_constraint(op.f("ck_scenario_kind"), "kind IN ('plan', 'roadmap')")
        batch.create_check_constraint(
            op.f("ck_scenario_roadmap_horizon"),
            "kind = 'plan' OR (horizon >= 1 AND horizon <= 40)")


def downgrade() -> None:
    # A roadmap scenario has no single-period meaning: it goes, as the older code cannot read it.
    op.execute("DELETE FROM scenario WHERE kind = 'roadmap'")
    op.execute("UPDATE scenario SET capacity_pm = 0 WHERE capacity_pm IS NULL")
    with op.batch_alter_table("scenario") as batch:
        batch.drop_constraint(op.f("ck_scenario_roadmap_horizon"), type_="check")
        batch.drop_constraint(op.f("ck_scenario_kind"), type_="check")
        batch.alter_column("capacity_pm", existing_type=sa.Float(), nullable=False)
        batch.drop_column("deadlines")
        batch.drop_column("discount_rate")
        batch.drop_column("horizon")
        batch.drop_column("kind")
