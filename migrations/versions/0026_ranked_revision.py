"""The revision of the ranking's inputs, beside the portfolio's: the last write the ranking reads.

A write that changes only project fields the ranking never reads (a title, a description, the
dates) moves the portfolio revision but not this one, and the stored ranking is carried forward
to the new revision rather than computed again. Existing portfolios start with both equal.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("portfolio_revision") as batch:
        batch.add_column(sa.Column("ranked_revision", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.execute("UPDATE portfolio_revision SET ranked_revision = revision")


def downgrade() -> None:
    with op.batch_alter_table("portfolio_revision") as batch:
        batch.drop_column("ranked_revision")
