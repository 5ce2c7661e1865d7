"""Three-way merge of edits made from an older version: per field, never overwriting others."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Conflict
from portfolio.models import Dataset, Project
from portfolio.services import datasets as dataset_service
from portfolio.services import projects as project_service
from portfolio.services.merge import three_way, values_at
from tests.factories import make_dataset, make_organisation, make_project


@pytest.mark.parametrize(
    ("base", "theirs", "mine", "applied", "conflict"),
    [
        pytest.param("a", "a", "b", {"f": "b"}, False, id="only mine: applied"),
        pytest.param("a", "c", "a", {}, False, id="only theirs: theirs kept"),
        pytest.param("a", "c", "c", {}, False, id="both the same: nothing to do"),
        pytest.param("a", "c", "b", {}, True, id="both different: a conflict"),
        pytest.param("a", "a", "a", {}, False, id="neither: nothing to do"),
    ],
)
def test_three_way_merge_per_field(base: str, theirs: str, mine: str,
                                   applied: dict[str, str], conflict: bool) -> None:
    merged, conflicts = three_way({"f": base}, {"f": theirs}, {"f": mine})
    assert merged == applied
    assert conflicts == ({"f": {"base": base, "theirs": theirs, "mine": mine}} if conflict
                         else {})


def test_three_way_merge_leaves_fields_not_sent_alone() -> None:
    merged, conflicts = three_way({"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 3})
    assert (merged, conflicts) == ({"a": 3}, {})


@pytest.fixture
def borough(db: Database) -> Database:
    with db.write() as session:
        make_organisation(session, "E09000002")
        make_project(session, "one-view", title="One View", description="First", cost_gbp=1)
        make_dataset(session, "council-tax", title="Council tax")
    return db


def patch(db: Database, data: dict) -> dict:
    with db.write() as session:
        return project_service.patch_project(session=session, actor=SYSTEM, slug="one-view",
                                             data=data)


def test_the_values_a_version_had_are_rebuilt_from_the_audit_trail(borough: Database) -> None:
    patch(borough, {"version": 1, "title": "Two", "cost_gbp": 5})
    patch(borough, {"version": 2, "description": "Second"})
    with borough.read() as session:
        project = session.exec(select(Project).where(Project.slug == "one-view")).one()
        now = {"title": project.title, "description": project.description,
               "cost_gbp": project.cost_gbp}
        then = values_at(session, entity="project", entity_id=project.id, version=1,
                         current=now)
    assert now == {"title": "Two", "description": "Second", "cost_gbp": 5}
    assert then == {"title": "One View", "description": "First", "cost_gbp": 1}


def test_a_stale_patch_applies_only_mine_and_keeps_theirs(borough: Database) -> None:
    patch(borough, {"version": 1, "cost_gbp": 120_000, "description": "CDO's"})
    saved = patch(borough, {"version": 1, "title": "Lead's title"})
    assert saved["applied"] == ["title"] and saved["kept"] == ["cost_gbp", "description"]
    with borough.read() as session:
        project = session.exec(select(Project).where(Project.slug == "one-view")).one()
    assert (project.title, project.description, project.cost_gbp, project.version) == (
        "Lead's title", "CDO's", 120_000, 3)


def test_a_stale_patch_that_changes_the_same_field_differently_writes_nothing(
    borough: Database,
) -> None:
    patch(borough, {"version": 1, "cost_gbp": 120_000, "description": "CDO's"})
    with pytest.raises(Conflict) as refused:
        patch(borough, {"version": 1, "title": "Lead's", "cost_gbp": 90_000})
    assert refused.value.conflicts == {
        "cost_gbp": {"base": 1, "theirs": 120_000, "mine": 90_000}}
    with borough.read() as session:
        project = session.exec(select(Project).where(Project.slug == "one-view")).one()
    assert (project.title, project.version) == ("One View", 2)


def test_a_stale_patch_to_the_same_value_as_theirs_is_no_conflict(borough: Database) -> None:
    patch(borough, {"version": 1, "cost_gbp": 7})
    saved = patch(borough, {"version": 1, "cost_gbp": "7"})
    assert saved["applied"] == [] and saved["kept"] == ["cost_gbp"]


def test_datasets_merge_by_the_same_rules(borough: Database) -> None:
    def patch_dataset(data: dict) -> dict:
        with borough.write() as session:
            return dataset_service.patch_dataset(session=session, actor=SYSTEM,
                                                 code="council-tax", data=data)

    patch_dataset({"version": 1, "drl": "C2", "licence": "OGL"})
    saved = patch_dataset({"version": 1, "title": "Council tax accounts"})
    assert saved["applied"] == ["title"]
    with pytest.raises(Conflict) as refused:
        patch_dataset({"version": 1, "drl": "B1"})
    assert set(refused.value.conflicts) == {"drl"}
    with borough.read() as session:
        dataset = session.exec(select(Dataset).where(Dataset.code == "council-tax")).one()
    assert (dataset.title, dataset.drl, dataset.licence) == (
        "Council tax accounts", "C2", "OGL")


def test_a_stale_dataset_replacement_is_refused_naming_what_changed(borough: Database) -> None:
    with borough.write() as session:
        dataset_service.patch_dataset(session=session, actor=SYSTEM, code="council-tax",
                                      data={"version": 1, "drl": "C1"})
    with borough.write() as session, pytest.raises(Conflict) as refused:
        dataset_service.update_dataset(session=session, actor=SYSTEM, code="council-tax", data={
            "version": 1, "title": "Council tax", "publisher": "E09000002", "access": "open"})
    assert refused.value.changed == {"drl": "C1"}
