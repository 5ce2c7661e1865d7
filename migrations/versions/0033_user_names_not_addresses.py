"""Users named by their email address (`portfolio users add` without --name) are renamed.

A user's name is shown where their address is not (public read), so the name becomes the
address's part before @. The downgrade keeps the new names: the old ones were the addresses.

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels = None
depends_on = None

USERS = sa.table("user_account", sa.column("id", sa.Integer), sa.column("email", sa.String),
                 sa.column("name", sa.String))


def upgrade() -> None:
    connection = op.get_bind()
    named_by_address = [(user_id, name) for user_id, email, name in connection.execute(
        sa.select(USERS.c.id, USERS.c.email, USERS.c.name))
        if name.strip().lower() == email.strip().lower()]
    for user_id, name in named_by_address:
        connection.execute(USERS.update().where(USERS.c.id == user_id)
                           .values(name=name.strip().split("@", 1)[0] or name))


def downgrade() -> None:
    """Keep the names: putting the addresses back would show them again."""
