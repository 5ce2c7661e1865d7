"""Which projects each portfolio write changed, so a process can patch the frames it keeps.

A write that only updated some projects' own fields names them; any other write names none
(NULL), and a process that kept the portfolio's frames from before it reads them all again.
Writes made before this revision have no row: frames kept from before it are read again too.

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portfolio_change",
        sa.Column("revision", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("projects", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("revision"),
    )


def downgrade() -> None:
    op.drop_table("portfolio_change")
