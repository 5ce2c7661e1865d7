"""The governed status workflow, through the services, an import and the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from portfolio.actors import SYSTEM, Actor
from portfolio.cli import app
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import Invalid, NotAllowed
from portfolio.models import AuditEvent, Organisation, Project, User
from portfolio.services import imports, project_pages, reviews, workflow
from portfolio.services import projects as project_service
from portfolio.settings import Settings

CDO = Actor(id=None, role=Role.CDO, email="cdo@example.london")


def lead_of(db: Database, code: str = "E09000002") -> Actor:
    with db.read() as session:
        org_id = session.execute(select(Organisation.id).where(Organisation.code == code)
                                 ).scalar_one()
    return Actor(id=None, role=Role.LEAD, organisation_id=org_id, email="lead@example.london")


def status_of(db: Database, slug: str) -> str:
    with db.read() as session:
        return session.execute(select(Project.status).where(Project.slug == slug)).scalar_one()


def edit(db: Database, actor: Actor, slug: str, **changes: object) -> dict:
    """Replace a project's fields as PUT does, from its current version."""
    with db.write() as session:
        current = project_service.get_project(session=session, slug=slug)
        data = {k: current[k] for k in project_service.PROJECT_FIELDS if current[k] is not None}
        data |= {"owner": current["organisation"], "version": current["version"]} | changes
        return project_service.update_project(session=session, actor=actor, slug=slug,
                                              data=data)


def move(db: Database, actor: Actor, slug: str, to: str, reason: str = "") -> dict:
    with db.write() as session:
        return workflow.move(session=session, actor=actor, slug=slug, to=to, reason=reason)


def test_a_lead_may_not_approve_their_own_project_by_editing_it(london: Database) -> None:
    # Issue 12: a lead set their own project to approved through the edit, bypassing review.
    with pytest.raises(NotAllowed) as refused:
        edit(london, lead_of(london), "bd-propensity-to-pay", status="approved")
    assert refused.value.message == (
        "a lead may not move a project from proposed to approved; the CDO or an admin may")
    assert status_of(london, "bd-propensity-to-pay") == "proposed"


@pytest.mark.parametrize("target", ["rejected", "delivered"])
def test_a_lead_may_not_reject_or_deliver_a_proposed_project(london: Database,
                                                             target: str) -> None:
    with pytest.raises(NotAllowed, match="the CDO or an admin may"):
        edit(london, lead_of(london), "bd-propensity-to-pay", status=target)


def test_after_a_rejection_the_lead_cannot_set_it_back_to_approved(london: Database) -> None:
    with london.write() as session:
        reviews.decide(session=session, actor=CDO, slug="bd-propensity-to-pay",
                       decision="reject", rationale="Duplicates the GLA's work.")
    for target in ("approved", "proposed", "idea"):
        with pytest.raises(NotAllowed):
            edit(london, lead_of(london), "bd-propensity-to-pay", status=target)
    assert status_of(london, "bd-propensity-to-pay") == "rejected"


def test_a_lead_moves_their_project_along_the_workflow(london: Database) -> None:
    lead = lead_of(london)
    move(london, lead, "bd-propensity-to-pay", "idea")  # withdraw
    move(london, lead, "bd-propensity-to-pay", "proposed")  # submit
    with london.write() as session:
        reviews.decide(session=session, actor=CDO, slug="bd-propensity-to-pay",
                       decision="approve", rationale="Worth it.")
    # It processes personal data: its DPIA must have begun before it starts.
    edit(london, lead, "bd-propensity-to-pay", dpia_status="in_progress")
    for step in ("in_progress", "paused", "in_progress", "delivered"):
        assert move(london, lead, "bd-propensity-to-pay", step)["status"] == step
    with london.read() as session:
        history = project_pages.project_history(session=session, slug="bd-propensity-to-pay")
    moves = [(e["from"], e["to"]) for e in history if e["kind"] == "transition"]
    assert moves[::-1] == [("proposed", "idea"), ("idea", "proposed"), ("proposed", "approved"),
                           ("approved", "in_progress"), ("in_progress", "paused"),
                           ("paused", "in_progress"), ("in_progress", "delivered")]


def test_a_lead_may_not_move_another_organisations_project(london: Database) -> None:
    with pytest.raises(NotAllowed):
        move(london, lead_of(london, "E09000007"), "bd-propensity-to-pay", "idea")


def test_a_lead_registers_projects_as_ideas_or_proposed_only(london: Database) -> None:
    lead = lead_of(london)
    base = {"owner": "E09000002", "theme": "housing", "title": "New"}
    with london.write() as session:
        project_service.create_project(session=session, actor=lead,
                                       data=base | {"slug": "bd-new", "status": "proposed"})
    with london.write() as session, pytest.raises(NotAllowed, match="register a project as"):
        project_service.create_project(session=session, actor=lead,
                                       data=base | {"slug": "bd-new-2", "status": "approved"})


def test_the_cdo_approves_only_by_a_review_decision(london: Database) -> None:
    with pytest.raises(Invalid) as refused:
        edit(london, CDO, "bd-propensity-to-pay", status="approved")
    assert "review decision" in refused.value.errors["status"]


def test_the_cdo_makes_any_other_change_with_a_reason_kept_in_the_history(
    london: Database,
) -> None:
    with pytest.raises(Invalid) as refused:
        edit(london, CDO, "bd-early-help-risk-model", status="idea")
    assert "say why" in refused.value.errors["status_reason"]
    edit(london, CDO, "bd-early-help-risk-model", status="idea",
         status_reason="Restarting from scratch after the audit.")
    with london.read() as session:
        history = project_pages.project_history(session=session, slug="bd-early-help-risk-model")
    moved = next(e for e in history if e["kind"] == "transition")
    assert (moved["from"], moved["to"], moved["reason"]) == (
        "paused", "idea", "Restarting from scratch after the audit.")


def test_an_import_by_a_lead_may_not_approve_their_project(london: Database) -> None:
    # Issue 12: an import file with a status column bypassed the review.
    content = (b"slug,title,owner,theme,status\n"
               b"bd-propensity-to-pay,Propensity to pay,E09000002,cost_of_living,approved\n"
               b"bd-brand-new,Brand new,E09000002,housing,in_progress\n")
    with london.write() as session:
        report = imports.import_projects(session=session, actor=lead_of(london),
                                         content=content)
    assert [(e.row, e.column) for e in report.errors] == [(2, "status"), (3, "status")]
    assert "the CDO or an admin may" in report.errors[0].reason
    assert status_of(london, "bd-propensity-to-pay") == "proposed"


def test_an_import_follows_the_workflow_and_records_each_move(london: Database) -> None:
    content = (b"slug,title,owner,theme,status\n"
               b"bd-propensity-to-pay,Propensity to pay,E09000002,cost_of_living,idea\n")
    with london.write() as session:
        report = imports.import_projects(session=session, actor=lead_of(london),
                                         content=content, filename="mine.csv")
    assert report.ok and report.updated == ["bd-propensity-to-pay"]
    with london.read() as session:
        after = session.execute(select(AuditEvent.after).where(
            AuditEvent.action == "transition")).scalars().all()
    assert [(a["status"], a["source"]) for a in after] == [("idea", "import mine.csv")]


def test_an_import_by_the_cdo_outside_the_workflow_needs_a_reason(london: Database) -> None:
    header = "slug,title,owner,theme,status,status_reason\n"
    row = "bd-early-help-risk-model,Early help,E09000002,children_education,idea,{}\n"
    with london.write() as session:
        refused = imports.import_projects(session=session, actor=CDO,
                                          content=(header + row.format("")).encode())
    assert [(e.row, e.column) for e in refused.errors] == [(2, "status_reason")]
    with london.write() as session:
        done = imports.import_projects(session=session, actor=CDO,
                                       content=(header + row.format("Starting over")).encode())
    assert done.ok and status_of(london, "bd-early-help-risk-model") == "idea"


def test_the_cli_refuses_a_lead_approving_and_names_who_may(
    sqlite_london_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "cli.db"
    shutil.copyfile(sqlite_london_template, database)
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{database}"}
    with Database(Settings(database_url=env["PORTFOLIO_DATABASE_URL"])).read() as session:
        email = session.execute(select(User.email).where(
            User.email == "lead.barking@example.london")).scalar_one()
    runner = CliRunner()
    refused = runner.invoke(app, ["projects", "status", "bd-propensity-to-pay", "approved",
                                  "--as", email], env=env)
    assert refused.exit_code != 0
    assert "the CDO or an admin may" in str(refused.exception or refused.output)
    done = runner.invoke(app, ["projects", "status", "bd-propensity-to-pay", "idea",
                               "--as", email], env=env)
    assert done.exit_code == 0, done.output
    assert "now idea" in done.output
    decided = runner.invoke(app, ["projects", "decide", "bd-propensity-to-pay", "reject",
                                  "--rationale", "Not now."], env=env)
    assert decided.exit_code == 0, decided.output


def test_only_staff_change_a_status_outside_the_workflow() -> None:
    assert workflow.capability_for(None, workflow.S.IDEA).value == "register_project"
    assert workflow.capability_for(workflow.S.IDEA, workflow.S.APPROVED).value == "decide"
    assert workflow.capability_for(workflow.S.DELIVERED, workflow.S.IN_PROGRESS).value == (
        "change_status")
    assert workflow.check_transition(SYSTEM, 1, "delivered", "in_progress", reason="x") is None


def test_personal_data_work_cannot_start_before_its_dpia_has_begun(london: Database) -> None:
    lead = lead_of(london)
    with london.write() as session:
        reviews.decide(session=session, actor=CDO, slug="bd-propensity-to-pay",
                       decision="approve", rationale="Worth it.")
    with pytest.raises(Invalid) as refused:
        move(london, lead, "bd-propensity-to-pay", "in_progress")
    assert "dpia_status" in refused.value.errors
    with pytest.raises(Invalid) as unexplained:
        move(london, CDO, "bd-propensity-to-pay", "in_progress")
    assert "status_reason" in unexplained.value.errors
    started = move(london, CDO, "bd-propensity-to-pay", "in_progress",
                   reason="Statutory deadline; DPIA starts next week.")
    assert started["status"] == "in_progress"


def test_an_edit_that_begins_the_dpia_may_start_the_work_at_once(london: Database) -> None:
    with london.write() as session:
        reviews.decide(session=session, actor=CDO, slug="bd-propensity-to-pay",
                       decision="approve", rationale="Worth it.")
    done = edit(london, lead_of(london), "bd-propensity-to-pay", status="in_progress",
                dpia_status="in_progress")
    assert done["status"] == "in_progress"
