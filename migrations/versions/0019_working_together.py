"""Working together: project owners and progress, discussion, watching and notifications.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString
_WHEN = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    """Return a foreign key named by the models' convention."""
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "project_stewardship",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("public_contact", _STR(length=254), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        _fk("project_stewardship", "project_id", "project", "CASCADE"),
        _fk("project_stewardship", "owner_user_id", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_stewardship")),
    )
    op.create_table(
        "progress_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("rag", _STR(length=8), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("reported_on", sa.Date(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.CheckConstraint("rag IN ('red', 'amber', 'green')", name=op.f("ck_progress_update_rag")),
        sa.CheckConstraint("length(summary) > 0", name=op.f("ck_progress_update_summary_given")),
        _fk("progress_update", "project_id", "project", "CASCADE"),
        _fk("progress_update", "author_id", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_update")),
    )
    op.create_index("ix_progress_update_project", "progress_update", ["project_id", "id"])
    op.create_table(
        "project_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("edited_at", _WHEN, nullable=True),
        sa.Column("removed_at", _WHEN, nullable=True),
        sa.Column("removed_by_id", sa.Integer(), nullable=True),
        _fk("project_comment", "project_id", "project", "CASCADE"),
        _fk("project_comment", "author_id", "user_account", "SET NULL"),
        _fk("project_comment", "removed_by_id", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_comment")),
    )
    op.create_index("ix_project_comment_project", "project_comment", ["project_id", "id"])
    op.create_table(
        "project_watch",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("watching", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _WHEN, nullable=False),
        _fk("project_watch", "user_id", "user_account", "CASCADE"),
        _fk("project_watch", "project_id", "project", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "project_id", name=op.f("pk_project_watch")),
    )
    op.create_index("ix_project_watch_project", "project_watch", ["project_id", "watching"])
    op.create_table(
        "notification_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _STR(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("fanned_out_at", _WHEN, nullable=True),
        _fk("notification_event", "project_id", "project", "CASCADE"),
        _fk("notification_event", "actor_id", "user_account", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_event")),
    )
    op.create_index("ix_notification_event_pending", "notification_event",
                    ["fanned_out_at", "id"])
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", _STR(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("message", _STR(length=500), nullable=False),
        sa.Column("link", _STR(length=500), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("read_at", _WHEN, nullable=True),
        sa.Column("digest_pending", sa.Boolean(), nullable=False),
        _fk("notification", "user_id", "user_account", "CASCADE"),
        _fk("notification", "event_id", "notification_event", "SET NULL"),
        _fk("notification", "project_id", "project", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index("ix_notification_user", "notification", ["user_id", "read_at", "id"])
    op.create_index("ix_notification_digest", "notification", ["digest_pending", "user_id"])
    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", _STR(length=32), nullable=False),
        sa.Column("channel", _STR(length=8), nullable=False),
        sa.CheckConstraint("channel IN ('in_app', 'email', 'digest', 'off')",
                           name=op.f("ck_notification_preference_channel")),
        _fk("notification_preference", "user_id", "user_account", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("to_address", _STR(length=254), nullable=False),
        sa.Column("kind", _STR(length=32), nullable=False),
        sa.Column("subject", _STR(length=300), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("status", _STR(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _WHEN, nullable=False),
        sa.Column("last_error", _STR(length=1000), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("sent_at", _WHEN, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')",
                           name=op.f("ck_email_outbox_status")),
        _fk("email_outbox", "user_id", "user_account", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
    )
    op.create_index("ix_email_outbox_due", "email_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_email_outbox_user_kind", "email_outbox", ["user_id", "kind", "created_at"])


def downgrade() -> None:
    """Revert this revision."""
    for table in ("email_outbox", "notification_preference", "notification",
                  "notification_event", "project_watch", "project_comment", "progress_update",
                  "project_stewardship"):
        op.drop_table(table)
