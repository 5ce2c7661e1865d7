"""Status workflow: a reviewer's question is answered on its decision; overrides can expire.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("answered_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_review_decision_answered_by_id_user_account",
                                    "user_account", ["answered_by_id"], ["id"])
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_expires_on", sa.Date(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("override_expires_on")
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.drop_constraint("fk_review_decision_answered_by_id_user_account",
                                 type_="foreignkey")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("answered_by_id")
        batch_op.drop_column("answer")
