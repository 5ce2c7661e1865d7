"""Importing projects from CSV and XLSX: every row checked, all or nothing, update by slug."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from portfolio.actors import SYSTEM, Actor
from portfolio.cli import app
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import NotAllowed
from portfolio.models import AuditEvent, Organisation, Project, ProjectDataset, ProjectDependency
from portfolio.services import imports
from portfolio.services.imports import BadFile, FileTooLarge, ImportReport

HEADER = "slug,title,owner,theme,status,cost_gbp,start_date,end_date,datasets,depends_on\n"


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode("utf-8")


def run(db: Database, content: bytes, *, actor: Actor = SYSTEM, dry_run: bool = False,
        filename: str = "projects.csv") -> ImportReport:
    with db.write() as session:
        return imports.import_projects(session=session, actor=actor, content=content,
                                       filename=filename, dry_run=dry_run)


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def lead_of(db: Database, code: str) -> Actor:
    with db.read() as session:
        org_id = session.execute(select(Organisation.id).where(Organisation.code == code)
                                 ).scalar_one()
    return Actor(id=None, role=Role.LEAD, organisation_id=org_id, email="lead@example.london")


def errors_of(report: ImportReport) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in report.errors]


def test_the_template_imports_and_importing_it_again_changes_nothing(london: Database) -> None:
    projects, links = count(london, Project), count(london, ProjectDataset)
    first = run(london, imports.template_bytes())
    assert first.ok and first.written
    assert first.created == ["example-cost-of-living-dashboard", "example-warm-homes-targeting"]
    assert (first.links_added, first.dependencies_added) == (4, 1)
    assert count(london, Project) == projects + 2 and count(london, ProjectDataset) == links + 4

    again = run(london, imports.template_bytes())
    assert again.ok and not again.written and len(again.unchanged) == 2
    assert count(london, Project) == projects + 2 and count(london, ProjectDataset) == links + 4


def test_reimporting_with_a_change_updates_that_project_by_slug(london: Database) -> None:
    run(london, imports.template_bytes())
    changed = imports.template_bytes().replace(b"Warm homes retrofit targeting",
                                               b"Warm homes targeting phase 2")
    report = run(london, changed)
    assert report.updated == ["example-warm-homes-targeting"] and report.created == []
    with london.read() as session:
        project = session.execute(select(Project).where(
            Project.slug == "example-warm-homes-targeting")).scalar_one()
        event = session.execute(select(AuditEvent).where(
            AuditEvent.entity == "project", AuditEvent.entity_id == project.id,
            AuditEvent.action == "update")).scalar_one()
    assert project.title == "Warm homes targeting phase 2" and project.version == 2
    assert event.after == {"title": "Warm homes targeting phase 2", "version": 2}


def test_a_blank_cell_keeps_the_current_value_of_an_existing_project(london: Database) -> None:
    report = run(london, csv_file("bd-one-view,One View (renamed),E09000002,,,,,,,"))
    assert report.updated == ["bd-one-view"]
    with london.read() as session:
        project = session.execute(select(Project).where(Project.slug == "bd-one-view")
                                  ).scalar_one()
    assert project.title == "One View (renamed)"
    assert (project.theme, project.status, project.cost_gbp) == (
        "data_infrastructure", "delivered", 1600000)


def test_one_bad_row_writes_nothing_and_every_bad_row_is_listed(london: Database) -> None:
    projects, audit = count(london, Project), count(london, AuditEvent)
    report = run(london, csv_file(
        "good-one,A good project,E09000002,housing,idea,1000,,,,",
        "bad-theme,Bad theme,E09000002,gardening,idea,,,,,",
        "bad-owner,Bad owner,NOWHERE,housing,,,,,,",
        "bad-dates,Bad dates,E09000002,housing,,,2026-05-01,2026-04-01,,",
        "bad-links,Bad links,E09000002,housing,,£-5,,,no-such-dataset,no-such-project",
        "Bad Slug,No slug rules,E09000002,housing,,,,not a date,,",
    ))
    assert not report.ok and report.created == []
    assert errors_of(report) == [
        (3, "theme"), (4, "owner"), (5, "end_date"), (6, "cost_gbp"), (6, "datasets"),
        (6, "depends_on"), (7, "slug"), (7, "end_date"),
    ]
    reasons = {(e.row, e.column): e.reason for e in report.errors}
    assert "'gardening' is not one of" in reasons[(3, "theme")]
    assert "unknown organisation code 'NOWHERE'" in reasons[(4, "owner")]
    assert "no-such-dataset" in reasons[(6, "datasets")]
    assert "no-such-project" in reasons[(6, "depends_on")]
    assert count(london, Project) == projects and count(london, AuditEvent) == audit


def test_a_cycle_across_the_file_is_refused_with_its_path(london: Database) -> None:
    deps = count(london, ProjectDependency)
    report = run(london, csv_file(
        "cycle-a,Cycle A,E09000002,housing,,,,,,cycle-b",
        "cycle-b,Cycle B,E09000002,housing,,,,,,cycle-c",
        "cycle-c,Cycle C,E09000002,housing,,,,,,cycle-a",
    ))
    assert errors_of(report) == [(2, "depends_on"), (3, "depends_on"), (4, "depends_on")]
    assert all("cycle-a -> cycle-b -> cycle-c -> cycle-a" in e.reason for e in report.errors)
    assert count(london, ProjectDependency) == deps


def test_a_cycle_through_existing_dependencies_is_refused(london: Database) -> None:
    # london-atlas already depends on london-datastore-launch.
    report = run(london, csv_file(
        "london-datastore-launch,London Datastore launch,GLA,,,,,,,london-atlas"))
    assert errors_of(report) == [(2, "depends_on")]
    assert "london-datastore-launch -> london-atlas -> london-datastore-launch" in (
        report.errors[0].reason) or "london-atlas -> london-datastore-launch -> london-atlas" in (
        report.errors[0].reason)


def test_duplicate_slugs_in_one_file_are_refused(london: Database) -> None:
    report = run(london, csv_file("twice,One,E09000002,housing,,,,,,",
                                  "twice,Two,E09000002,housing,,,,,,"))
    assert errors_of(report) == [(3, "slug")]
    assert "already on row 2" in report.errors[0].reason


def test_a_lead_may_import_only_their_own_organisations_projects(london: Database) -> None:
    lead = lead_of(london, "E09000002")
    report = run(london, csv_file(
        "barking-ok,Barking project,E09000002,housing,,,,,,",
        "camden-not,Camden project,E09000007,housing,,,,,,",
        "london-atlas,London Atlas moved,E09000002,,,,,,,",
    ), actor=lead)
    assert errors_of(report) == [(3, "owner"), (4, "owner")]
    # Organisations by name, not code.
    assert "only Barking and Dagenham's projects, not Camden's" in report.errors[0].reason
    assert "not Greater London Authority's" in report.errors[1].reason
    assert run(london, csv_file("barking-ok,Barking project,E09000002,housing,,,,,,"),
               actor=lead).created == ["barking-ok"]


def test_a_researcher_may_not_import(london: Database) -> None:
    researcher = Actor(id=None, role=Role.RESEARCHER, email="r@example.london")
    with pytest.raises(NotAllowed):
        run(london, imports.template_bytes(), actor=researcher)


def test_a_dry_run_reports_and_writes_nothing(london: Database) -> None:
    projects = count(london, Project)
    report = run(london, imports.template_bytes(), dry_run=True)
    assert report.ok and report.dry_run and not report.written
    assert len(report.created) == 2 and count(london, Project) == projects


def test_an_xlsx_file_imports_like_its_csv(london: Database) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "projects"
    sheet.append(["Slug", "Title", "Owner", "Theme", "Cost GBP", "Start date", "Mandatory",
                  "Mandatory justification"])
    from datetime import datetime
    sheet.append(["xlsx-project", "From a workbook", "E09000007", "planning", 25000.0,
                  datetime(2027, 1, 4), True, "Planning Act duty"])
    out = io.BytesIO()
    workbook.save(out)
    report = run(london, out.getvalue(), filename="projects.xlsx")
    assert report.ok and report.kind == "xlsx" and report.created == ["xlsx-project"]
    with london.read() as session:
        project = session.execute(select(Project).where(Project.slug == "xlsx-project")
                                  ).scalar_one()
    assert (project.cost_gbp, str(project.start_date), project.mandatory) == (
        25000, "2027-01-04", True)


def test_our_exports_apostrophe_is_taken_off_again(london: Database) -> None:
    report = run(london, csv_file("formula,'=1+1 is not a formula,E09000002,housing,,,,,,"))
    assert report.ok
    with london.read() as session:
        title = session.execute(select(Project.title).where(Project.slug == "formula")
                                ).scalar_one()
    assert title == "=1+1 is not a formula"


def test_a_bad_file_is_refused_through_the_service_with_nothing_written(
    london: Database,
) -> None:
    projects = count(london, Project)
    with pytest.raises(BadFile, match="must be UTF-8"):
        run(london, "slug,title,owner,theme\ncafé,Café,GLA,housing\n".encode("latin-1"))
    assert count(london, Project) == projects


# ---------------------------------------------------------------------------------------------
# Bad files: each refused with a clear message before any row is read (no database needed)


def _zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return out.getvalue()


@pytest.mark.parametrize(("content", "message"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document, not a CSV or XLSX file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "Excel 97-2003 workbook (.xls)"),
    (_zip(["word/document.xml"]), "a Word document"),
    (_zip(["notes.txt"]), "a zip archive, not a CSV or XLSX file"),
    (b"\x00\x01\x02binary", "binary, not a CSV or XLSX file"),
    (b'[{"slug": "x"}]', "looks like JSON"),
    (b"<html><body>projects</body></html>", "looks like HTML"),
    (b"", "the file is empty"),
    (b"  \n\n", "the file is empty"),
    (HEADER.encode(), "a header but no project rows"),
    (b"slug,title,theme\nx,X,housing\n", "missing required column owner"),
    (b"slug,title,owner,theme,colour\nx,X,GLA,housing,red\n", "unknown column colour"),
    (b"slug,title,owner,theme,title\nx,X,GLA,housing,Y\n", "repeated column title"),
    (b"x,A project,GLA,housing\n", "the first row must be the header"),
    ("slug,title,owner,theme\nx,Café,GLA,housing\n".encode("cp1252"),
     "must be UTF-8 encoded: byte 0xe9 at offset 28 (line 2)"),
    ("slug,title\n".encode("utf-16"), "UTF-16"),
], ids=["pdf", "png", "xls", "docx", "zip", "binary", "json", "html", "empty", "blank",
        "header-only", "missing-column", "unknown-column", "repeated-column", "no-header",
        "not-utf8", "utf16"])
def test_a_bad_file_gets_a_clear_message(content: bytes, message: str) -> None:
    with pytest.raises(BadFile) as caught:
        imports.read_sheet(content)
    assert message in caught.value.errors["file"]


def test_a_file_over_50_mb_is_refused_before_it_is_parsed(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    def never(*_args: object) -> None:
        raise AssertionError("a file over the limit must not be parsed")

    monkeypatch.setattr(imports.reading, "_read_csv", never)
    content = HEADER.encode() + b"x" * imports.MAX_IMPORT_BYTES
    with pytest.raises(FileTooLarge, match="the limit is 50 MB") as caught:
        imports.read_sheet(content)
    assert caught.value.status_code == 413


def test_a_semicolon_separated_file_from_excel_is_read() -> None:
    sheet = imports.read_sheet(b"\xef\xbb\xbfslug;title;owner;theme\nx;X;GLA;housing\n")
    assert sheet.header == ["slug", "title", "owner", "theme"]
    assert sheet.rows == [(2, ["x", "X", "GLA", "housing"])]


def test_the_cli_checks_then_imports_and_lists_refused_rows(
    sqlite_london_template: Path, tmp_path: Path
) -> None:
    database = tmp_path / "cli.db"
    shutil.copyfile(sqlite_london_template, database)
    env = {"PORTFOLIO_DATABASE_URL": f"sqlite:///{database}"}
    runner = CliRunner()
    good = tmp_path / "projects.csv"
    good.write_bytes(imports.template_bytes())
    checked = runner.invoke(app, ["import", "projects", str(good), "--dry-run"], env=env)
    assert checked.exit_code == 0, checked.output
    assert "would create 2" in checked.output and "nothing written" in checked.output
    done = runner.invoke(app, ["import", "projects", str(good)], env=env)
    assert done.exit_code == 0 and "created 2" in done.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file("x-1,X,E09000002,gardening,,,,,,"))
    refused = runner.invoke(app, ["import", "projects", str(bad)], env=env)
    assert refused.exit_code == 2
    assert "nothing was written" in refused.output and "gardening" in refused.output


def test_an_imported_projects_history_shows_its_creation_and_links(london: Database) -> None:
    from portfolio.services import project_pages

    assert run(london, imports.template_bytes()).ok
    with london.read() as session:
        history = project_pages.project_history(session=session,
                                                slug="example-warm-homes-targeting")
    kinds = [e["kind"] for e in history]
    texts = [e.get("text", "") for e in history]
    assert "create" in kinds
    assert any(t.startswith("Linked dataset ") and "a dataset" not in t for t in texts)
