"""Audit events carry the project they concern, so a project's history shows its link changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_audit_event_project", ["project_id", "id"], unique=False)
    # Events about a project itself name it already; earlier link events stay unattributed.
    op.execute("UPDATE audit_event SET project_id = entity_id WHERE entity = 'project'")


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_project")
        batch_op.drop_column("project_id")
