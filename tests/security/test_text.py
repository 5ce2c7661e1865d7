"""Findings 3 and 6: formulas behind a control character, and control characters in text."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy import update
from typer.testing import CliRunner

from portfolio import text
from portfolio.cli import app as cli
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.models import Project
from portfolio.services.snapshots import service as snapshot_service
from tests.web.auth import Browser

SLUG = "underground-asset-register-pilot"
HYPERLINK = '=HYPERLINK("http://evil.example/x","Open")'


def store_title(db: Database, slug: str, title: str) -> None:
    """Write a title as rows stored before the input rule hold it (no validation)."""
    with db.write() as session:
        session.execute(update(Project).where(Project.slug == slug).values(title=title))


def xlsx_title(content: bytes, slug: str) -> tuple[str, str]:
    sheet = load_workbook(io.BytesIO(content))["projects"]
    header = [c.value for c in sheet[1]]
    title, key = header.index("title"), header.index("slug")
    return next((row[title].value, row[title].data_type)
                for row in sheet.iter_rows(min_row=2) if row[key].value == slug)


def csv_title(content: bytes, slug: str) -> str:
    rows = csv.DictReader(io.StringIO(content.decode("utf-8")))
    return next(row["title"] for row in rows if row["slug"] == slug)


@pytest.mark.parametrize("title, shown", [
    ("\u0001" + HYPERLINK, "'" + HYPERLINK),
    ("\u200b=1+1", "'\u200b=1+1"),
    ("\uff1d1+1", "'\uff1d1+1"),
    ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
], ids=["control-prefix", "zero-width", "full-width-equals", "full-width-at"])
def test_formula_injection_through_a_control_character_prefix_is_neutralised(
        london_cdo: Browser, london: Database, title: str, shown: str) -> None:
    store_title(london, SLUG, title)
    workbook = london_cdo.get("/api/v1/export", params={"format": "xlsx"})
    assert workbook.status_code == 200
    assert xlsx_title(workbook.content, SLUG) == (shown, "s")
    table = london_cdo.get("/api/v1/export", params={"format": "csv"})
    assert csv_title(table.content, SLUG) == shown
    package = london_cdo.get("/api/v1/export", params={"format": "datapackage"})
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        assert csv_title(archive.read("data/projects.csv"), SLUG) == shown


def test_control_characters_are_refused_by_the_api_with_the_field_named(cdo: Browser) -> None:
    response = cdo.post("/api/v1/projects", json={
        "slug": "bell", "title": "Bell\u0007", "owner": "E09000002", "theme": "housing"})
    assert response.status_code == 422
    assert "control characters" in response.json()["errors"]["title"]
    fine = cdo.post("/api/v1/projects", json={
        "slug": "lines", "title": "Lines", "description": "one\nand\ttwo\r\n",
        "owner": "E09000002", "theme": "housing"})
    assert fine.status_code == 201


def test_control_characters_are_refused_by_the_project_form(cdo: Browser) -> None:
    response = cdo.post("/projects/new", data={
        "slug": "bell", "title": "Bell\u0001", "owner": "E09000002", "theme": "housing"},
        headers={"accept": "text/html"})
    assert response.status_code == 422
    assert "control characters" in response.text


def test_control_characters_are_refused_by_the_import(cdo: Browser) -> None:
    content = "slug,title,owner,theme\nbell,Bell\u0001x,E09000002,housing\n".encode()
    response = cdo.post("/api/v1/import/projects", data={"dry_run": "true"},
                        files={"file": ("p.csv", content, "text/csv")})
    assert response.status_code == 422
    assert response.json()["errors"][0]["column"] == "title"
    assert "control characters" in response.json()["errors"][0]["reason"]


def test_control_characters_are_refused_by_the_cli(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    done = runner.invoke(cli, ["snapshot", "create", "--label", "\u0001x"],
                         env={"PORTFOLIO_DATABASE_URL": settings.database_url})
    # main() turns the domain error into a message and exit code 2.
    assert isinstance(done.exception, Invalid)
    assert "control characters" in done.exception.errors["label"]


def test_control_characters_already_stored_do_not_break_graphml(london_cdo: Browser,
                                                               london: Database) -> None:
    store_title(london, SLUG, "One\u0001 View")
    response = london_cdo.get("/api/v1/graph.graphml")
    assert response.status_code == 200
    titles = etree.fromstring(response.content).xpath(
        "//g:data[text()='One View']", namespaces={"g": "http://graphml.graphdrawing.org/xmlns"})
    assert titles


def test_control_characters_in_a_stored_snapshot_label_do_not_break_its_xlsx(
        london_cdo: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    # A snapshot made before the input rule: immutable, so the exporter must cope.
    monkeypatch.setattr(snapshot_service, "control_problem", lambda *_a, **_k: None)
    created = london_cdo.post("/api/v1/snapshots", json={"label": "\u0001x"})
    assert created.status_code == 201
    monkeypatch.undo()
    response = london_cdo.get(f"/api/v1/snapshots/{created.json()['id']}/export",
                       params={"format": "xlsx"})
    assert response.status_code == 200
    about = load_workbook(io.BytesIO(response.content))["About"]
    assert ["label", "x"] in [[c.value for c in row] for row in about.iter_rows()]


def test_control_characters_migration_cleans_existing_rows(empty_database_url: str) -> None:
    from sqlalchemy import text

    from portfolio import migrate
    from portfolio.db import make_engine

    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0006")
    # Rows as the schema of 0006 holds them (the models describe the newest schema).
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO organisation (code, name, kind) "
                                "VALUES ('GLA', :name, 'gla')"), {"name": "G\x01LA"})
        connection.execute(text(
            "INSERT INTO project (slug, title, description, owner_id, theme, status, cost_gbp, "
            "effort_pm, personal_data, dpia_status, mandatory, mandatory_justification, "
            "override_justification, version, created_at, updated_at) VALUES ('p', :title, "
            ":text, (SELECT id FROM organisation), 'housing', 'idea', 0, 0, false, "
            "'not_needed', false, '', '', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"title": "T\x01\tx", "text": "a\x02\nb\u0085"})
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM organisation")).scalar() == "GLA"
        assert connection.execute(text("SELECT title, description FROM project")).one() == (
            "T x", "a\nb")
    engine.dispose()


def _neutralise_reference(value: str) -> str:
    """The rule as written before its fast path: strip controls, then look at the first mark."""
    if not value:
        return value
    value = text.strip_controls(value)
    if not value:
        return value
    position = 0  # past invisible characters and apostrophes, one at a time
    while position < len(value) and (value[position] in text.INVISIBLE
                                     or value[position] == "'"):
        position += 1
    if position < len(value) and value[position] in text.FORMULA_START:
        return "'" + value
    return value


@given(st.text(alphabet=st.one_of(
    st.sampled_from(sorted(text.FORMULA_START | set(text.INVISIBLE)) + ["\x00", "\x1f", "\x85",
                                                                      "\x7f", "\n", " ", "a",
                                                                      "'", "\uffff"]),
    st.characters()), max_size=12))
def test_neutralise_fast_path_equals_the_rule(value: str) -> None:
    assert text.neutralise(value) == _neutralise_reference(value)


# Found in review: U+FFFE and U+FFFF are not control characters but XML has no place for them,
# so a title holding one (the API took it) made every XLSX export a damaged file and the
# editable spreadsheet and the plan's XLSX a 500.
@pytest.mark.parametrize("odd", ["\ufffe", "\uffff"])
def test_characters_xml_cannot_hold_are_refused_and_never_break_an_xlsx(
        london_cdo: Browser, london: Database, odd: str) -> None:
    refused = london_cdo.post("/api/v1/projects", json={
        "slug": "odd-title", "title": f"Data {odd} hub", "owner": "E09000002",
        "theme": "housing"})
    assert refused.status_code == 422 and f"U+{ord(odd):04X}" in refused.json()["errors"]["title"]
    store_title(london, SLUG, f"One {odd}View")  # stored before the rule
    for url in ("/api/v1/export?format=xlsx", "/api/v1/import/projects?format=xlsx"):
        response = london_cdo.get(url)
        assert response.status_code == 200, url
        book = load_workbook(io.BytesIO(response.content))
        titles = [c.value for row in book["projects"].iter_rows() for c in row]
        assert "One View" in titles, url


@given(st.text(alphabet=st.one_of(st.sampled_from(
    sorted(text.FORMULA_START | set(text.INVISIBLE)) + ["'", "a", " "]), st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff")), max_size=10))
def test_the_import_takes_off_exactly_the_mark_the_export_adds(value: str) -> None:
    assert text.unneutralise(text.neutralise(value)) == value
