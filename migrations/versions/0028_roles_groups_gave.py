"""What the group mappings gave each signed-in identity, so that a removed group takes it away.

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Identities signed in before this carry none: their roles stay until a mapping gives one.
    with op.batch_alter_table("external_identity") as batch:
        batch.add_column(sa.Column("mapped_role", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("mapped_organisation_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("external_identity") as batch:
        batch.drop_column("mapped_organisation_id")
        batch.drop_column("mapped_role")
