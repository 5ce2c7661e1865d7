"""Capacity per organisation per quarter, for the roadmap.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "organisation_capacity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("quarter_start", sa.Date(), nullable=False),
        sa.Column("person_months", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "person_months >= 0",
            name=op.f("ck_organisation_capacity_person_months_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"],
            name=op.f("fk_organisation_capacity_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_capacity")),
        sa.UniqueConstraint(
            "organisation_id", "quarter_start",
            name=op.f("uq_organisation_capacity_organisation_id"),
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("organisation_capacity")
