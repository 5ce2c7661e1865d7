"""An email the reader stopped before it was sent is `cancelled`, not `failed`.

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels = None
depends_on = None

# Said of each email cancelled before 0035, which recorded it as failed.
CANCELLED = "Cancelled before sending: the user stopped these emails."


def upgrade() -> None:
    # Rebuilt on SQLite only (batch "auto"): on PostgreSQL a rebuilt table's id would take a
    # new sequence from 1, under the ids its rows keep.
    with op.batch_alter_table("email_outbox") as batch:
        batch.drop_constraint(op.f("ck_email_outbox_status"), type_="check")
        batch.alter_column("status", type_=sa.String(length=16), existing_nullable=False)
        batch.create_check_constraint(
            op.f("ck_email_outbox_status"), "status IN ('pending', 'sent', 'failed', 'cancelled')")
    op.execute(sa.text("UPDATE email_outbox SET status = 'cancelled' "
                       "WHERE status = 'failed' AND last_error = :said"
                       ).bindparams(said=CANCELLED))


def downgrade() -> None:
    op.execute(sa.text("UPDATE email_outbox SET status = 'failed', last_error = :said "
                       "WHERE status = 'cancelled'").bindparams(said=CANCELLED))
    with op.batch_alter_table("email_outbox") as batch:
        batch.drop_constraint(op.f("ck_email_outbox_status"), type_="check")
        batch.alter_column("status", type_=sa.String(length=8), existing_nullable=False)
        batch.create_check_constraint(
            op.f("ck_email_outbox_status"), "status IN ('pending', 'sent', 'failed')")
