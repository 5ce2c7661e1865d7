"""The change log names the projects a write changed, and kept frames are patched from it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, insert, update
from sqlmodel import select

from portfolio import revision
from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.models import Assessment, Organisation, PortfolioChange, Project
from portfolio.revision import MOST_PROJECTS_LOGGED, changed_since
from portfolio.services import frames, ranking
from portfolio.services import projects as project_service
from portfolio.services.common import current_revision


def logged(db: Database) -> list[set[int] | None]:
    """Return each logged write's projects, oldest first (None: any)."""
    import orjson

    with db.read() as session:
        rows = session.exec(select(PortfolioChange).order_by(PortfolioChange.revision)).all()
    return [None if row.projects is None else set(orjson.loads(row.projects)) for row in rows]


def first_projects(db: Database, n: int) -> list[Project]:
    with db.read() as session:
        return list(session.exec(select(Project).order_by(Project.id).limit(n)).all())


def edit(db: Database, slug: str, **fields: Any) -> None:
    """Edit a project's fields through the service, as the edit form and the API do."""
    with db.write() as session:
        version = project_service.get_project(session=session, slug=slug)["version"]
        project_service.patch_project(session=session, actor=SYSTEM, slug=slug,
                                      data={"version": version, **fields})


def test_an_edit_of_a_projects_fields_logs_that_project(london: Database) -> None:
    one, two = first_projects(london, 2)
    edit(london, one.slug, effort_pm=12.5)  # the service's compare-and-set
    edit(london, one.slug, title="Renamed")  # a field the ranking never reads: logged too
    with london.write() as session:  # the ORM's flush, two projects in one transaction
        for project in session.exec(select(Project).where(Project.id.in_([one.id, two.id]))):
            project.cost_gbp += 1
            session.flush()
    assess(london, two.slug, "skills", 3, 0)  # an assessment: that project's levels
    assert logged(london)[-4:] == [{one.id}, {one.id}, {one.id, two.id}, {two.id}]
    with london.write() as session:  # values written into the statement: any
        session.connection().execute(insert(Assessment.__table__).values(
            project_id=one.id, criterion_id=1, level=2, rationale="Inline",
            assessed_at=datetime.now(UTC)))
    assert logged(london)[-1] is None


@pytest.mark.parametrize("write", ["every project", "a slug", "another table", "an insert",
                                   "a project then another table"])
def test_any_other_portfolio_write_logs_no_projects(london: Database, write: str) -> None:
    one = first_projects(london, 1)[0]
    with london.write() as session:
        if write == "every project":
            session.execute(update(Project).values(effort_pm=Project.effort_pm + 1))
        elif write == "a slug":
            session.execute(update(Project).where(Project.id == one.id).values(slug="moved"))
        elif write == "another table":
            session.execute(update(Organisation).values(name=Organisation.name))
        elif write == "an insert":
            session.connection().execute(insert(Organisation.__table__).values(
                code="X-NEW", name="A new partner", kind="supplier"))
        else:
            session.execute(update(Project).where(Project.id == one.id).values(cost_gbp=1))
            session.execute(update(Organisation).values(name=Organisation.name))
    assert logged(london)[-1] is None


def test_a_write_naming_too_many_projects_logs_none(london: Database) -> None:
    with london.write() as session:
        for project_id in range(1, MOST_PROJECTS_LOGGED + 2):
            session.execute(update(Project).where(Project.id == project_id).values(cost_gbp=1))
    assert logged(london)[-1] is None
    with london.write() as session:  # in one statement too
        session.connection().execute(
            update(Project.__table__).where(Project.__table__.c.id == bindparam("pid"))
            .values(cost_gbp=2), [{"pid": i} for i in range(1, MOST_PROJECTS_LOGGED + 2)])
    assert logged(london)[-1] is None


def test_parameters_sent_with_a_write_name_its_projects(london: Database) -> None:
    # Found in review: parameters sent with the statement replace the id bound in it, and the
    # log named the project the statement was written for, not the one it changed.
    one, two, three = first_projects(london, 3)
    table = Project.__table__
    with london.write() as session:
        session.connection().execute(
            update(table).where(table.c.id == bindparam("pid", one.id)).values(cost_gbp=5),
            {"pid": two.id})
    assert logged(london)[-1] == {two.id}
    with london.write() as session:  # an anonymous bound id replaced by its compiled name
        session.connection().execute(update(table).where(table.c.id == one.id)
                                     .values(cost_gbp=6), {"id_1": three.id})
    assert logged(london)[-1] is None
    with london.write() as session:  # one statement, several projects
        session.connection().execute(
            update(table).where(table.c.id == bindparam("pid")).values(cost_gbp=7),
            [{"pid": one.id}, {"pid": three.id}])
    assert logged(london)[-1] == {one.id, three.id}


def test_a_rolled_back_savepoint_takes_its_writes_out_of_the_log(london: Database) -> None:
    one, two = first_projects(london, 2)
    with london.write() as session:
        session.execute(update(Project).where(Project.id == one.id).values(cost_gbp=1))
        with pytest.raises(RuntimeError), session.begin_nested():
            session.execute(update(Organisation).values(name=Organisation.name))
            raise RuntimeError("undone")
        session.execute(update(Project).where(Project.id == two.id).values(cost_gbp=2))
    assert logged(london)[-1] == {one.id, two.id}


def test_changes_are_read_only_when_the_log_holds_every_revision(london: Database) -> None:
    one, two = first_projects(london, 2)
    with london.read() as session:
        start = current_revision(session)
    edit(london, one.slug, effort_pm=3.0)
    edit(london, two.slug, cost_gbp=1000)
    with london.read() as session:
        now = current_revision(session)
        assert changed_since(session, start, now) == {one.id, two.id}
        assert changed_since(session, start - 1, now) is None  # the seed's own write: any
    with london.write() as session:
        session.execute(PortfolioChange.__table__.delete().where(
            PortfolioChange.revision == now))
    with london.read() as session:
        assert changed_since(session, start, now) is None  # a revision the log lacks


def test_changes_naming_too_many_projects_together_are_read_whole(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # Found in review: the union of many narrow writes went into one IN list (PostgreSQL
    # takes at most 65,535 parameters) and failed every later read of the frames.
    monkeypatch.setattr(revision, "MOST_PROJECTS_PATCHED", 2)
    projects = first_projects(london, 3)
    with london.read() as session:
        start = current_revision(session)
    for project in projects:
        edit(london, project.slug, effort_pm=4.0)
    with london.read() as session:
        assert changed_since(session, start, start + 2) == {p.id for p in projects[:2]}
        assert changed_since(session, start, start + 3) is None


def frames_of(db: Database) -> tuple[frames.PortfolioFrames, frames.PortfolioFrames]:
    """Return the frames this process keeps for the current revision, and a fresh read."""
    with db.read() as session:
        return ranking.portfolio_frames(db, session), frames.load_portfolio(session)


def whole_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count, from now on, each time the ranking reads the whole portfolio (one item each)."""
    reads: list[int] = []
    whole = frames.load_portfolio
    monkeypatch.setattr(ranking, "load_portfolio",
                        lambda session, *a, **k: reads.append(1) or whole(session, *a, **k))
    return reads


def assert_same_frames(kept: frames.PortfolioFrames, fresh: frames.PortfolioFrames) -> None:
    for name in ("projects", "levels", "links", "dependencies", "datasets", "partners",
                 "organisations", "assessments"):
        pd.testing.assert_frame_equal(getattr(kept, name), getattr(fresh, name), obj=name)
    assert kept.criteria == fresh.criteria


def assess(db: Database, slug: str, criterion: str, level: int, assessor: int) -> None:
    """Record an assessment through the service, as one of the seed's users."""
    from portfolio.models import User
    from portfolio.services.accounts import actor_for

    with db.write() as session:
        users = session.exec(select(User).where(User.role.in_(["admin", "cdo"]))
                             .order_by(User.id)).all()
        project_service.assess(session=session, actor=actor_for(users[assessor % len(users)]),
                               slug=slug, data={"criterion": criterion, "level": level,
                                                "rationale": "Seen in review"})


ASSESSMENTS = st.tuples(st.sampled_from(["residents_benefit", "strategic_fit", "skills"]),
                        st.integers(1, 5), st.integers(0, 3))

EDITS = st.fixed_dictionaries({}, optional={
    "effort_pm": st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 1)),
    "cost_gbp": st.integers(0, 5_000_000),
    "reach_people": st.none() | st.integers(0, 10**6),
    "confidence_pct": st.none() | st.integers(0, 100),
    "time_criticality": st.none() | st.integers(1, 5),
    "theme": st.sampled_from(["housing", "transport", "health", "environment"]),
    "owner": st.sampled_from(["GLA", "E09000002", "E09000028"]),
    "title": st.text("abcdef ", min_size=3, max_size=20).map(str.strip).filter(bool),
    "start_date": st.none() | st.dates(date(2026, 1, 1), date(2028, 1, 1)).map(str),
})


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 40), EDITS | ASSESSMENTS), min_size=1,
                      max_size=4))
def test_frames_patched_from_the_log_are_the_frames_read_again(
        london: Database, edits: list[tuple[int, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    projects = first_projects(london, 41)
    frames_of(london)  # kept, as after a ranking
    reads = whole_reads(monkeypatch)
    for place, change in edits:
        slug = projects[place % len(projects)].slug
        try:
            if isinstance(change, tuple):
                assess(london, slug, *change)
            else:
                edit(london, slug, **change)
        except Invalid:
            continue  # a combination the rules refuse: nothing written
    kept, fresh = frames_of(london)
    assert_same_frames(kept, fresh)
    assert reads == [], "every write named its project: the kept frames were patched"


def test_frames_are_read_again_after_a_write_naming_no_projects(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    frames_of(london)
    reads = whole_reads(monkeypatch)
    one = first_projects(london, 1)[0]
    with london.write() as session:
        session.execute(update(Project).where(Project.id == one.id)
                        .values(slug=f"{one.slug}-moved"))
    kept, fresh = frames_of(london)
    assert reads == [1]
    assert_same_frames(kept, fresh)


def test_assessing_patches_the_levels_and_disputed_cells_in_their_places(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    projects = first_projects(london, 30)
    first, middle, last = projects[2], projects[14], projects[27]
    for project in (first, middle, last):  # a second assessor: disputed cells on all three
        assess(london, project.slug, "skills", 1, 1)
        assess(london, project.slug, "reach", 5, 1)
    frames_of(london)
    reads = whole_reads(monkeypatch)
    assess(london, middle.slug, "skills", 4, 0)
    assess(london, middle.slug, "strategic_fit", 2, 1)
    assess(london, projects[20].slug, "equity", 3, 1)
    kept, fresh = frames_of(london)
    assert reads == []
    assert len(kept.assessments) > 6
    assert_same_frames(kept, fresh)
