"""Ranking rows keep their run's and their project's ids without foreign keys to them, and
SQLite never gives a removed run's id to a new run.

A ranking row is derived (a run can be computed again). Projects are archived, never deleted,
and a run's rows are deleted with the run by the code that removes runs (a storer whose run
was removed finds it gone and rolls back its batch). Checking the keys cost PostgreSQL a lock
on each of 100,000 projects and a check per row for every stored run: 0.9 s of its 2 s.
A storer tells that its run was removed by its progress update matching no run, which holds
only if no new run takes the removed one's id: SQLite's AUTOINCREMENT sees to that.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ranking_row", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_ranking_row_project_id_project"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_ranking_row_run_id_ranking_run"), type_="foreignkey")
    if op.get_bind().dialect.name == "sqlite":
        # Never hand a removed run's id out again (PostgreSQL's sequences never do).
        with op.batch_alter_table("ranking_run", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("ranking_run", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": False}):
            pass
    # Rows whose run or project is gone would refuse the keys: they rank nothing anyway.
    op.execute("DELETE FROM ranking_row WHERE project_id NOT IN (SELECT id FROM project) "
               "OR run_id NOT IN (SELECT id FROM ranking_run)")
    with op.batch_alter_table("ranking_row", schema=None) as batch_op:
        batch_op.create_foreign_key(op.f("fk_ranking_row_project_id_project"), "project",
                                    ["project_id"], ["id"], ondelete="CASCADE")
        batch_op.create_foreign_key(op.f("fk_ranking_row_run_id_ranking_run"), "ranking_run",
                                    ["run_id"], ["id"], ondelete="CASCADE")
