"""Scenarios in the service layer: who may save them, and re-solving at the current revision."""

from __future__ import annotations

import json

import pytest

from portfolio.actors import SYSTEM, Actor
from portfolio.capabilities import Capability, roles_with
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import NotAllowed
from portfolio.services import scenarios
from portfolio.services.common import portfolio_revision
from tests.factories import make_organisation, make_project

LEAD = Actor(id=None, role=Role.LEAD, organisation_id=1, email="lead@example.london")


@pytest.fixture
def db_with_projects(db: Database) -> Database:
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_project(session, "first", status="proposed", cost_gbp=100_000, effort_pm=2)
        make_project(session, "second", status="proposed", cost_gbp=200_000, effort_pm=2)
    return db


def test_only_the_cdo_and_admin_save_scenarios() -> None:
    assert roles_with(Capability.MANAGE_SCENARIOS) == {Role.CDO, Role.ADMIN}


def test_a_lead_may_not_save_a_scenario(db_with_projects: Database) -> None:
    with db_with_projects.write() as session, pytest.raises(NotAllowed, match="CDO"):
        scenarios.create_scenario(session=session, actor=LEAD, data={
            "name": "Mine", "budget": 1, "capacity": 1})


def test_saving_a_scenario_does_not_move_the_portfolio_revision(
    db_with_projects: Database,
) -> None:
    before = portfolio_revision(db_with_projects)
    with db_with_projects.write() as session:
        scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Both", "budget": 300_000, "capacity": 10})
    assert portfolio_revision(db_with_projects) == before


def test_a_scenario_is_solved_again_at_the_current_revision_when_opened(
    london: Database,
) -> None:
    with london.write() as session:
        made = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Tight", "budget": 1_000_000, "capacity": 80,
            "force_in": "waltham-forest-retrofit-targeting"})
    first = scenarios.solve_scenario(london, scenario_id=made["id"])["plan"]
    assert "retrofit-targeting-london" in first["selected"]
    with london.write() as session:
        make_project(session, "cheap-new-idea", owner="GLA", status="proposed",
                     cost_gbp=1_000, effort_pm=0.5)
    again = scenarios.solve_scenario(london, scenario_id=made["id"])["plan"]
    assert again["revision"] > first["revision"]
    assert "cheap-new-idea" in again["selected"] or any(
        r["slug"] == "cheap-new-idea" for r in again["left_out"])


def test_the_cli_solves_a_saved_scenario(london: Database, settings) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from portfolio.cli import app

    with london.write() as session:
        made = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "From the CLI", "budget": 1_500_000, "capacity": 120})
    env = {"PORTFOLIO_DATABASE_URL": settings.database_url}
    listed = CliRunner().invoke(app, ["scenario", "list", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [s["name"] for s in json.loads(listed.stdout)] == ["From the CLI"]
    solved = CliRunner().invoke(app, ["scenario", "plan", str(made["id"])], env=env)
    assert solved.exit_code == 0, solved.output
    assert "wave 1:" in solved.stdout and "left out" in solved.stdout
