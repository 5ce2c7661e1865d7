"""SQLite never gives a deleted scenario's, document's or group mapping's id to a new one.

These rows are deleted outright, and pages and API calls name them by id (a scenario's
delete form, a document's download link, a mapping's remove button). Without AUTOINCREMENT
SQLite hands the largest id out again, so a page still showing a deleted row would delete or
change the next one made. PostgreSQL's sequences never hand an id out twice.

Existing rows keep their ids; each table's counter starts past the largest id it holds and
the largest the audit trail names for it, since the newest rows may already be deleted.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels = None
depends_on = None

# Each table and the entity its rows are recorded as in the audit trail.
TABLES = {"scenario": "scenario", "attachment": "attachment", "group_mapping": "group_mapping"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, entity in TABLES.items():
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass
        largest = bind.execute(sa.text(
            f"SELECT max(n) FROM (SELECT max(id) AS n FROM {table} UNION ALL "
            "SELECT max(entity_id) FROM audit_event WHERE entity = :entity)"),
            {"entity": entity}).scalar()
        if largest is None:
            continue
        # The copy made the counter the largest id kept (or no counter, from an empty table).
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :table"),
                     {"table": table})
        bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"),
                     {"table": table, "seq": largest})


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always",
                                  table_kwargs={"sqlite_autoincrement": False}):
            pass
