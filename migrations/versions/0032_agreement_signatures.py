"""Each party's signature of a data-sharing agreement, kept per party.

An agreement recorded as signed (or since expired) before this revision counts as signed by
every party on its signed date (none when it has none, as the records migration 0018 made from
the links' words), recorded by no one in particular: its standing is unchanged.

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels = None
depends_on = None


def _fk(column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """Return a foreign key named by the models' convention."""
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_agreement_signature_{column}_{target}"),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "agreement_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        _fk("agreement_id", "sharing_agreement", "CASCADE"),
        _fk("organisation_id", "organisation", "CASCADE"),
        _fk("signed_by_id", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_signature")),
        sa.UniqueConstraint("agreement_id", "organisation_id",
                            name=op.f("uq_agreement_signature_agreement_id")),
    )
    op.execute(
        "INSERT INTO agreement_signature (agreement_id, organisation_id, signed_on, recorded_at) "
        "SELECT a.id, p.organisation_id, a.signed_on, CURRENT_TIMESTAMP "
        "FROM sharing_agreement a JOIN agreement_party p ON p.agreement_id = a.id "
        "WHERE a.status IN ('signed', 'expired')")


def downgrade() -> None:
    op.drop_table("agreement_signature")
