"""A snapshot's projects CSV is written once, when its tables are stored, and kept beside them.

Snapshots taken before this migration have no kept copy: their CSV is written on request, as
before.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_export",
        sa.Column("body_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["body_hash"], ["snapshot_body.body_hash"],
                                name=op.f("fk_snapshot_export_body_hash_snapshot_body"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("body_hash", "name", name=op.f("pk_snapshot_export")),
    )


def downgrade() -> None:
    op.drop_table("snapshot_export")
