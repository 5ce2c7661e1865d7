"""Integrity lives in the database too, whatever code writes to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from portfolio.db import Database, make_engine
from tests.factories import make_organisation, make_project


def raw(db: Database, sql: str, **params: object) -> None:
    """Run SQL outside the services, as a careless script would."""
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    engine.dispose()


def test_database_refuses_a_project_of_an_unknown_owner(db: Database) -> None:
    with pytest.raises(IntegrityError):
        raw(
            db,
            "INSERT INTO project (slug, title, description, owner_id, theme, status, "
            "cost_gbp, effort_pm, personal_data, dpia_status, mandatory, "
            "mandatory_justification, override_justification, version, created_at, "
            "updated_at) VALUES ('x', 'X', '', 999, 'housing', 'idea', 0, 0, false, "
            "'not_needed', false, '', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        )


@pytest.mark.parametrize(
    "column, value",
    [("cost_gbp", -1), ("status", "'finished'"), ("theme", "'space'"), ("effort_pm", -0.5)],
)
def test_database_refuses_out_of_range_project_values(
    db: Database, column: str, value: object
) -> None:
    with db.write() as session:
        make_organisation(session)
        make_project(session, "single-view")
    with pytest.raises(IntegrityError):
        raw(db, f"UPDATE project SET {column} = {value} WHERE slug = 'single-view'")


def test_database_refuses_duplicate_organisation_codes(db: Database) -> None:
    with db.write() as session:
        make_organisation(session)
    with pytest.raises(IntegrityError):
        raw(db, "INSERT INTO organisation (code, name, kind) VALUES ('E09000002', 'B', 'borough')")


def test_database_refuses_self_dependency(db: Database) -> None:
    with db.write() as session:
        make_organisation(session)
        make_project(session, "a")
    with pytest.raises(IntegrityError):
        raw(
            db, "INSERT INTO project_dependency (project_id, depends_on_id, note) VALUES (1, 1, '')"
        )


def test_the_stored_dimensions_are_the_one_list_of_dimensions(london: Database) -> None:
    from portfolio.enums import Dimension
    from scoring.criteria import DIMENSIONS

    assert tuple(Dimension) == DIMENSIONS
    with london.read() as session:
        rows = session.execute(text("SELECT DISTINCT dimension FROM criterion")).all()
    assert {row[0] for row in rows} == set(DIMENSIONS)
