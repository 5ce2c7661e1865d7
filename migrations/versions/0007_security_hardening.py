"""Server-side sessions, API token expiry, and text without control characters.

- user_session: one row per signed-in browser (the cookie holds a secret, the row its hash).
- api_token.expires_at: tokens made before this revision expire 90 days after it.
- Control characters (C0 and C1, but tab and line breaks in long text) are taken out of the
  text already stored, as every input now refuses them. Snapshots are left as they are: they
  are sealed by their hash, and every exporter strips what a format cannot hold.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:00:00.000000
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration must not change when the application's code does.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
LINE_BREAKS = re.compile(r"[\t\n\r]+")
# (table, single-line columns, long-text columns)
TEXT_COLUMNS = (
    ("organisation", ("name",), ()),
    ("user_account", ("name",), ()),
    ("project", ("title",), ("description", "mandatory_justification",
                             "override_justification")),
    ("dataset", ("title", "licence"), ("description",)),
    ("project_dependency", (), ("note",)),
    ("assessment", (), ("rationale",)),
    ("review_decision", (), ("rationale",)),
    ("weight_profile", ("name",), ("description",)),
    ("api_token", ("name",), ()),
)


def _clean_single_line(value: str) -> str:
    return CONTROL.sub("", LINE_BREAKS.sub(" ", value)).strip() or "?"


def _clean_text(rows_of: str, single: tuple[str, ...], long: tuple[str, ...]) -> None:
    """Rewrite the rows of one table whose text holds a control character."""
    connection = op.get_bind()
    table = sa.table(rows_of, sa.column("id"), *(sa.column(c) for c in (*single, *long)))
    update = (sa.update(table).where(table.c.id == sa.bindparam("row_id"))
              .values({c: sa.bindparam(f"new_{c}") for c in (*single, *long)}))
    changed = []
    for row in connection.execute(sa.select(table)).mappings():
        new = {f"new_{c}": _clean_single_line(row[c]) if row[c] and (
            CONTROL.search(row[c]) or LINE_BREAKS.search(row[c])) else row[c] for c in single}
        new |= {f"new_{c}": CONTROL.sub("", row[c]) if row[c] else row[c] for c in long}
        if any(new[f"new_{c}"] != row[c] for c in (*single, *long)):
            changed.append({"row_id": row["id"], **new})
    for start in range(0, len(changed), 1000):
        connection.execute(update, changed[start:start + 1000])


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "user_session",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_user_session_user_id_user_account"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index("ix_user_session_user", ["user_id", "ended_at"], unique=False)

    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    token = sa.table("api_token", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.get_bind().execute(sa.update(token).values(
        expires_at=datetime.now(UTC) + timedelta(days=90)))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True),
                              nullable=False)

    for name, single, long in TEXT_COLUMNS:
        _clean_text(name, single, long)


def downgrade() -> None:
    """Revert this revision (cleaned text stays clean)."""
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index("ix_user_session_user")
    op.drop_table("user_session")
