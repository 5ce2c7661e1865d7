"""No lost updates: stale edits are refused, concurrent writers never see a locked database."""

from __future__ import annotations

from sqlmodel import func, select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Conflict
from portfolio.models import AuditEvent
from portfolio.services import projects as project_service
from tests.factories import make_organisation, make_project
from tests.racing import race

WRITERS = 6
EDITS_EACH = 15


def edit(db: Database, n: int) -> str:
    """Read the project, then write from the version read: the form's round trip."""
    with db.read() as session:
        current = project_service.get_project(session=session, slug="one-view")
    data = {"title": f"edit {n}", "owner": current["organisation"], "theme": current["theme"],
            "version": current["version"], "cost_gbp": n}
    try:
        with db.write() as session:
            project_service.update_project(session=session, actor=SYSTEM, slug="one-view",
                                           data=data)
    except Conflict:
        return "conflict"
    return "ok"


def test_concurrent_writers_lose_nothing_and_never_fail_on_a_lock(db: Database) -> None:
    with db.write() as session:
        make_organisation(session)
        make_project(session, "one-view")
    outcomes = race(lambda n: edit(db, n), writers=WRITERS, edits_each=EDITS_EACH)
    accepted = outcomes.count("ok")
    assert accepted + outcomes.count("conflict") == WRITERS * EDITS_EACH
    assert accepted >= EDITS_EACH
    with db.read() as session:
        project = project_service.get_project(session=session, slug="one-view")
        updates = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "project", AuditEvent.action == "update")).one()
    # Every accepted write moved the version on exactly once and left one audit event.
    assert project["version"] == 1 + accepted
    assert updates == accepted
