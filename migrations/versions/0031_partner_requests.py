"""Partner requests: joining another organisation's project waits for the owner's consent.

Partners recorded before this revision stay partners; from it on, "we will partner" records a
request that a lead of the owning organisation (or the CDO, an admin) accepts or declines.

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels = None
depends_on = None


def _fk(column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """Return a foreign key named by the models' convention."""
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_partner_request_{column}_{target}"),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "partner_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        _fk("project_id", "project", "CASCADE"),
        _fk("organisation_id", "organisation", "CASCADE"),
        _fk("requested_by_id", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_request")),
        sa.UniqueConstraint("project_id", "organisation_id",
                            name=op.f("uq_partner_request_project_id")),
    )
    op.create_index("ix_partner_request_organisation", "partner_request", ["organisation_id"])


def downgrade() -> None:
    op.drop_index("ix_partner_request_organisation", table_name="partner_request")
    op.drop_table("partner_request")
