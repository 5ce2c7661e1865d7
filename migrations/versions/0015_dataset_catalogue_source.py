"""Datasets remember where a portal published them: identifier, page, formats, modified date.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset") as batch:
        batch.add_column(sa.Column("source_identifier", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("url", sa.String(length=1000), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("formats", sa.String(length=300), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("source_modified", sa.Date(), nullable=True))
        batch.create_index("ix_dataset_source_identifier", ["source_identifier"])


def downgrade() -> None:
    with op.batch_alter_table("dataset") as batch:
        batch.drop_index("ix_dataset_source_identifier")
        batch.drop_column("source_modified")
        batch.drop_column("formats")
        batch.drop_column("url")
        batch.drop_column("source_identifier")
