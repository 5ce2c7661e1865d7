"""Imports and scenario solves run as jobs: the uploaded file waits in the database for a
worker, and a worker's solution of a saved scenario is kept per version and revision.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_upload",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["import_run.id"], ondelete="CASCADE",
                                name=op.f("fk_import_upload_run_id_import_run")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_import_upload")),
    )
    op.create_table(
        "scenario_solution",
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("scenario_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("solved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["scenario_id"], ["scenario.id"], ondelete="CASCADE",
                                name=op.f("fk_scenario_solution_scenario_id_scenario")),
        sa.PrimaryKeyConstraint("scenario_id", "scenario_version", "revision",
                                name=op.f("pk_scenario_solution")),
    )


def downgrade() -> None:
    # Waiting uploads and kept solutions go: the older code imports and solves in-process.
    op.drop_table("scenario_solution")
    op.drop_table("import_upload")
