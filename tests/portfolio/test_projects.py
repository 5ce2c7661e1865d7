"""Projects through the service layer: validation, dependencies and cycles, versions."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import Conflict, CycleRefused, Invalid, NotAllowed
from portfolio.models import AuditEvent, Project, ProjectDependency
from portfolio.services import projects as project_service
from tests.factories import depend, make_organisation, make_project


@pytest.fixture
def borough(db: Database) -> Database:
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_organisation(session, "E09000007", name="Camden")
    return db


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_create_project_returns_its_owner_code(borough: Database) -> None:
    with borough.write() as session:
        created = make_project(session, "one-view", cost_gbp=250_000)
    assert created["organisation"] == "E09000002"
    assert created["version"] == 1


@pytest.mark.parametrize(
    "fields, field, fragment",
    [
        ({"owner": "E09999999"}, "owner", "unknown organisation code 'E09999999'"),
        ({"cost_gbp": -5}, "cost_gbp", "-5"),
        ({"theme": "space"}, "theme", "'space'"),
        ({"status": "finished"}, "status", "'finished'"),
        ({"mandatory": True}, "mandatory_justification", "statutory"),
        ({"start_date": "2025-05-01", "end_date": "2025-01-01"}, "end_date", "before"),
        ({"slug": "Not A Slug"}, "slug", "lowercase"),
    ],
)
def test_bad_project_input_names_the_field_and_writes_nothing(
    borough: Database, fields: dict, field: str, fragment: str
) -> None:
    data = {
        "slug": "one-view",
        "owner": "E09000002",
        "theme": "housing",
        "title": "One View",
        **fields,
    }
    with pytest.raises(Invalid) as caught, borough.write() as session:
        project_service.create_project(session=session, actor=Actor(None, Role.ADMIN), data=data)
    assert field in caught.value.errors
    assert fragment in caught.value.errors[field]
    assert count(borough, Project) == 0


def test_duplicate_slug_is_refused(borough: Database) -> None:
    with borough.write() as session:
        make_project(session, "one-view")
    with pytest.raises(Invalid, match="already exists"), borough.write() as session:
        make_project(session, "one-view")
    assert count(borough, Project) == 1


def test_self_dependency_is_refused_with_its_path(borough: Database) -> None:
    with borough.write() as session:
        make_project(session, "a")
    with pytest.raises(CycleRefused) as caught, borough.write() as session:
        depend(session, "a", "a")
    assert caught.value.path == ["a", "a"]
    assert count(borough, ProjectDependency) == 0


def test_dependency_closing_a_cycle_is_refused_with_the_cycle_named(borough: Database) -> None:
    with borough.write() as session:
        for slug in "abcd":
            make_project(session, slug)
        depend(session, "a", "b")
        depend(session, "b", "c")
        depend(session, "c", "d")
    with pytest.raises(CycleRefused) as caught, borough.write() as session:
        depend(session, "d", "a")
    assert " -> ".join(caught.value.path) == "d -> a -> b -> c -> d"
    # People read titles, not slugs (factories title a project by its slug in capitals).
    assert "D -> A -> B -> C -> D" in caught.value.errors["depends_on"]
    assert count(borough, ProjectDependency) == 3


def test_update_from_a_stale_version_is_refused_and_names_what_changed(
    borough: Database,
) -> None:
    with borough.write() as session:
        make_project(session, "one-view", title="One View")
    base = {"owner": "E09000002", "theme": "housing", "version": 1}
    with borough.write() as session:
        project_service.update_project(
            session=session,
            actor=Actor(None, Role.CDO),
            slug="one-view",
            data={**base, "title": "One View (phase 2)"},
        )
    with pytest.raises(Conflict) as caught, borough.write() as session:
        project_service.update_project(
            session=session,
            actor=Actor(None, Role.CDO),
            slug="one-view",
            data={**base, "title": "My edit"},
        )
    assert caught.value.changed == {"title": "One View (phase 2)"}
    with borough.read() as session:
        assert project_service.get_project(session=session, slug="one-view")["title"] == (
            "One View (phase 2)"
        )


def test_lead_may_not_register_projects_for_another_borough(borough: Database) -> None:
    with borough.read() as session:
        camden = session.exec(select(Project)).first()
    assert camden is None
    with borough.write() as session:
        from portfolio.services.common import organisation_by_code

        camden_id = organisation_by_code(session, "E09000007").id
    lead = Actor(id=None, role=Role.LEAD, organisation_id=camden_id)
    with pytest.raises(NotAllowed), borough.write() as session:
        make_project(session, "not-mine", owner="E09000002", actor=lead)
    with borough.write() as session:
        make_project(session, "mine", owner="E09000007", actor=lead)
    assert count(borough, Project) == 1


def test_every_change_writes_an_audit_event(borough: Database) -> None:
    with borough.write() as session:
        make_project(session, "a")
        make_project(session, "b")
        depend(session, "a", "b")
    with borough.read() as session:
        events = session.exec(select(AuditEvent.entity, AuditEvent.action)).all()
    assert ("project", "create") in events
    assert ("dependency", "create") in events
