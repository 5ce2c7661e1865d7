"""Import progress as a running total, and the import history that keeps every report."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from portfolio.db import Database
from portfolio.services import imports
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in, token_for
from tests.web.pages_html import parse_html
from web import pages_snapshots
from web.app import create_app

BAD_ROWS = (b"slug,title,owner,theme,status\n"
            b"ok-row,Fine,E09000002,housing,idea\n"
            b"bad-row,Broken,E09000002,gardening,idea\n")


def new_projects(count: int) -> bytes:
    """Return a CSV of new projects."""
    rows = "".join(f"bulk-{n},Bulk project {n},E09000002,housing\n" for n in range(count))
    return f"slug,title,owner,theme\n{rows}".encode()


@pytest.fixture
def admin(settings: Settings, london: Database) -> Iterator[Browser]:
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        yield client


def test_the_streamed_import_counts_written_rows_as_a_running_total(
        admin: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_snapshots, "PROGRESS_ABOVE_ROWS", 1)
    monkeypatch.setattr(imports.writing, "WRITE_BATCH", 10)
    response = admin.post("/import", files={"file": ("bulk.csv", new_projects(35),
                                                     "text/csv")})
    assert response.status_code == 200
    page = parse_html(response.text)
    writing = [int(re.search(r"([\d,]+) of", step.text()).group(1).replace(",", ""))
               for step in page.find(class_="import-progress").find_all("p")
               if "Writing" in step.text()]
    # Before: "10 of 35 rows" for every batch.
    assert writing[:5] == [0, 10, 20, 30, 35]
    assert writing == sorted(writing) and writing[-1] == 35


def test_a_streamed_import_runs_as_the_process_background_work(
        admin: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_snapshots, "PROGRESS_ABOVE_ROWS", 1)
    background = admin.app.state.database.background  # type: ignore[attr-defined]
    submitted: list[tuple] = []
    submit = background.submit

    def recorded(key: tuple, work):  # type: ignore[no-untyped-def]
        submitted.append(key)
        return submit(key, work)

    monkeypatch.setattr(background, "submit", recorded)
    response = admin.post("/import", files={"file": ("bulk.csv", new_projects(12), "text/csv")})
    assert response.status_code == 200 and "Writing" in response.text
    assert [key[0] for key in submitted].count("import") == 1


def test_a_streamed_import_names_where_its_report_stays_and_the_history_lists_it(
        admin: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages_snapshots, "PROGRESS_ABOVE_ROWS", 1)
    streamed = parse_html(admin.post("/import", files={
        "file": ("bulk.csv", new_projects(12), "text/csv")}).text)
    kept = [a.get("href") for a in streamed.find_all("a") if "import history" in a.text()]
    assert kept and kept[0].startswith("/imports/")
    # A browser that left the streamed page reads the report afterwards.
    report = parse_html(admin.get(kept[0]).text)
    assert "Imported" in report.by_id("import-outcome").text()
    assert "bulk-0" in report.text() and "imported" in report.text()
    history = parse_html(admin.get("/imports").text)
    row = history.find("table").find("tbody").find_all("tr")[0]
    cells = [c.text().strip() for c in row.find_all("td")]
    assert cells[1] == "bulk.csv" and cells[2].startswith("admin-")
    assert cells[3:] == ["imported", "12", "12", "0", "0", "0"]


def test_refused_and_command_line_imports_are_in_the_history_with_their_errors(
        admin: Browser, settings: Settings, london: Database) -> None:
    token = token_for(london, "admin")
    refused = admin.post("/api/v1/import/projects", headers={
        "authorization": f"Bearer {token}", "accept": "application/json"},
        files={"file": ("bad.csv", BAD_ROWS, "text/csv")})
    assert refused.status_code == 422
    entry = refused.json()["import_id"]
    page = parse_html(admin.get(f"/imports/{entry}").text)
    assert "refused" in page.text()
    problems = [[c.text() for c in r.find_all("td")]
                for r in page.find(class_="import-errors").find("tbody").find_all("tr")]
    assert problems[0][:2] == ["3", "theme"]


def test_a_lead_sees_only_their_own_imports(settings: Settings, london: Database) -> None:
    with Browser(create_app(settings), headers={"accept": "text/html"}) as staff:
        sign_in(staff, london, "admin")
        staff.post("/import", files={"file": ("staff.csv", new_projects(2), "text/csv")})
        listed = parse_html(staff.get("/imports").text).find("tbody").find_all("tr")
        entry = listed[0].find("a").get("href")
    with Browser(create_app(settings), headers={"accept": "text/html"}) as lead:
        sign_in(lead, london, "lead", "E09000002")
        page = parse_html(lead.get("/imports").text)
        assert page.find("table") is None and "No import yet" in page.text()
        assert lead.get(entry).status_code == 404


def test_an_import_row_depending_on_a_project_not_in_the_file_adds_the_dependency(
        admin: Browser, london: Database) -> None:
    # The dependency was looked up among the file's projects only: a 500 (KeyError).
    from portfolio.services import projects

    token = token_for(london, "admin")
    sheet = (b"slug,title,owner,theme,depends_on\n"
             b"bd-new-arrears-model,New arrears model,E09000002,housing,bd-one-view\n")
    done = admin.post("/api/v1/import/projects", headers={
        "authorization": f"Bearer {token}", "accept": "application/json"},
        files={"file": ("depends.csv", sheet, "text/csv")})
    assert done.status_code in {200, 201}, done.text
    assert done.json()["dependencies_added"] == 1
    with london.read() as session:
        added = projects.get_project(session=session, slug="bd-new-arrears-model")
    assert [d["slug"] for d in added["depends_on"]] == ["bd-one-view"]


def test_an_import_row_read_at_an_older_version_does_not_undo_later_edits(
        admin: Browser, london: Database) -> None:
    # Review: a spreadsheet filled in from the project as it stood wrote its old values over
    # an edit made since, without a word; with a version column, a changed row is refused.
    from portfolio.actors import SYSTEM
    from portfolio.services import projects

    with london.write() as session:
        read = projects.get_project(session=session, slug="bd-one-view")
        projects.patch_project(session=session, actor=SYSTEM, slug="bd-one-view",
                               data={"title": "Edited since", "version": read["version"]})
    token = token_for(london, "admin")
    headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
    sheet = ("slug,title,owner,theme,version\n"
             f"bd-one-view,{read['title']} (v2),E09000002,{read['theme']},{read['version']}\n")
    refused = admin.post("/api/v1/import/projects", headers=headers,
                         files={"file": ("stale.csv", sheet.encode(), "text/csv")})
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "version")]
    assert f"since version {read['version']}" in errors[0]["reason"]
    with london.read() as session:
        assert projects.get_project(session=session, slug="bd-one-view")["title"] == (
            "Edited since")
    # Read again at its version, the same row is written.
    current = read["version"] + 1
    done = admin.post("/api/v1/import/projects", headers=headers, files={"file": (
        "fresh.csv", sheet.replace(f",{read['version']}\n", f",{current}\n").encode(),
        "text/csv")})
    assert done.status_code in {200, 201}, done.text
    assert done.json()["updated"] == ["bd-one-view"]
