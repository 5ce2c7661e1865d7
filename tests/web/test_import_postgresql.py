"""Two imports adding the same new project at once on PostgreSQL: the second updates it.

An import reads which of the file's projects the portfolio has, then adds the others. A
project another import (or a registration) has added but not committed is not among them, so
both added it and the second met the short name's unique constraint as a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import Project
from portfolio.services import imports, projects
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn

SLUG = "street-tree-census"
ROW = {"slug": SLUG, "title": "Street tree census", "owner": "GLA", "theme": "environment_net_zero"}
SHEET = (",".join(ROW) + "\n" + ",".join(ROW.values()) + "\n").encode()


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these writes)."""
    return "postgresql"


def _import(session: Session) -> None:
    report = imports.import_projects(session=session, actor=SYSTEM, content=SHEET,
                                     filename="trees.csv")
    assert not report.errors, report.errors


def _register(session: Session) -> None:
    projects.create_project(session=session, actor=SYSTEM, data=dict(ROW))


@pytest.mark.parametrize("meanwhile", [_import, _register], ids=["imported", "registered"])
def test_an_import_of_a_project_added_meanwhile_updates_it_not_a_server_error(
        signed_in: SignedIn, london: Database, meanwhile: Any) -> None:
    client = signed_in("admin")

    # The same project is added, not yet committed, when the user's import arrives.
    answer = sent_while_held(london, meanwhile, lambda: client.post(
        "/api/v1/import/projects", files={"file": ("trees.csv", SHEET, "text/csv")}))
    assert answer.status_code == 200, answer.text[:400]
    with london.read() as session:
        assert session.execute(select(func.count()).select_from(Project).where(
            Project.slug == SLUG)).scalar_one() == 1
