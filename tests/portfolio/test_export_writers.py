"""The fast export writers give the bytes of the plain ones they replace.

CSV rewrites canonical lines instead of parsing them, XLSX writes its rows' XML itself and
GraphML reads the graph straight from the rows: each is held to the writer it stands for
(the csv module on parsed rows, openpyxl's write-only sheets, build_graph with networkx's
GraphML) on rows made to be awkward.
"""

from __future__ import annotations

import csv
import io
import string
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.services import snapshots
from portfolio.services.exports import ExportFormat, write_export
from portfolio.services.exports.to_csv import csv_chunks
from portfolio.services.exports.to_xlsx import SheetCells
from portfolio.services.snapshots import TableData
from portfolio.services.snapshots.content import parse_lines
from portfolio.services.snapshots.schema import Column, TableSpec
from portfolio.services.snapshots.writer import PayloadWriter, canonical_line
from portfolio.text import neutralise
from scoring.graph import build_graph, write_graphml

META = {"label": "Writers", "author": "test", "created_at": "2026-11-28T18:10:12Z",
        "profile": {"name": "balanced", "version": 1}, "method_version": "1", "revision": 1,
        "source": "test"}

# Text that upsets a rewrite: separators, brackets, quotes, escapes, "null", formula starts,
# controls, invisible and full-width characters, and plain words.
AWKWARD = st.lists(st.sampled_from(
    [*"ab ,;[]\"\\'=+-@\t\r\n\x00\x7f\x85", "null", "\u200b", "\uff1d", "é", "£", "😀",
     "]\n[", "\",\""]), max_size=8).map("".join)
TEXT = st.one_of(st.none(), st.sampled_from(["", "syn-1", "Housing map", "a,b"]), AWKWARD)
NUMBER = st.one_of(st.none(), st.integers(-10**18, 10**18),
                   st.floats(allow_nan=False, allow_infinity=False))
# Text the rewrite takes without parsing: no escape, no formula start, but separators,
# brackets and "null" inside strings.
PLAIN = st.lists(st.sampled_from([*"ab ,;[]", "null", "é", "😀", "1.5"]), max_size=6).map(
    "".join)
COLUMNS = (Column("name"), Column("count", "integer"), Column("share", "number"),
           Column("flag", "boolean"), Column("tags", "list"), Column("note"))


def _table(rows: list[list[Any]], *, lines: bool, run: int = 3) -> TableData:
    """Return rows as a snapshot table read back from canonical lines (raw, or parsed)."""
    spec = TableSpec("things", "Things", "", COLUMNS, ("name",))
    texts = [canonical_line(row) for row in rows]
    runs = iter([b"\n".join(texts[i:i + run]) for i in range(0, len(texts), run)])
    parsed = (row for r in runs for row in parse_lines(r, numbers_as_text=True))
    return TableData(spec, [c.name for c in COLUMNS], parsed, runs if lines else None)


def _rows(text: st.SearchStrategy[str | None]) -> st.SearchStrategy[list[Any]]:
    return st.tuples(text, NUMBER, NUMBER, st.one_of(st.none(), st.booleans()),
                     st.one_of(st.none(), st.lists(text.filter(lambda t: t is not None),
                                                   max_size=3)), text).map(list)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(_rows(TEXT), max_size=12),
                 st.lists(_rows(st.one_of(st.none(), PLAIN)), max_size=12)),
       st.integers(1, 5))
def test_csv_rewritten_from_lines_is_the_csv_modules_output(rows: list[list[Any]],
                                                              run: int) -> None:
    rewritten = b"".join(csv_chunks(_table(rows, lines=True, run=run)))
    assert rewritten == b"".join(csv_chunks(_table(rows, lines=False)))


def parsed_only(content: snapshots.SnapshotContent) -> snapshots.SnapshotContent:
    """Return the content with its tables offering parsed rows only (the plain writers' path)."""

    class Parsed(snapshots.SnapshotContent):
        def tables(self, *, numbers_as_text: bool = False) -> Iterator[TableData]:
            for data in super().tables(numbers_as_text=numbers_as_text):
                yield TableData(data.spec, data.columns, data.rows)

    return Parsed(header=content.header, body=content.body, content_hash=content.content_hash,
                  id=content.id, row_counts=dict(content.row_counts))


def _content(tables: dict[str, tuple[list[str], list[list[Any]]]]) -> snapshots.SnapshotContent:
    """Return a snapshot of the given tables, in the schema's order."""
    writer = PayloadWriter()
    writer.header(META)
    for spec in snapshots.TABLES:
        if spec.name in tables:
            columns, rows = tables[spec.name]
            writer.table(spec.name, columns)
            writer.rows(rows)
    return writer.finish()


def _awkward_portfolio() -> snapshots.SnapshotContent:
    """Return a small portfolio with the graph's and the named tables' awkward cases."""
    project = [c.name for c in snapshots.TABLE_BY_NAME["projects"].columns]

    def row(slug: str, org: str | None, **values: Any) -> list[Any]:
        out: list[Any] = [None] * len(project)
        values = {"slug": slug, "title": f"Project {slug}", "organisation": org,
                  "theme": "housing", "status": "proposed", **values}
        for name, value in values.items():
            out[project.index(name)] = value
        return out

    return _content({
        "organisations": (["code", "name", "kind"], [
            ["GLA", "Greater London Authority", "gla"], ["B1", "=Borough, \"one\"", "borough"],
            ["NONAME", None, "partner"]]),
        "datasets": (["code", "title", "publisher", "access", "licence", "update_frequency",
                      "drl", "version", "description"], [
            ["d1", "Data, one", "GLA", "open", None, None, "C2", 1, None],
            ["d2", None, "ELSEWHERE", "closed", None, None, None, 1, "<b>&amp;</b>"]]),
        "projects": (project, [
            row("p1", "GLA", rank=1, score=50.5, mandatory=True, cost_gbp=1000,
                blocked_by=["p2"], unblocks=[]),
            row("p2", "B1", rank=2, score=None, mandatory=None, cost_gbp=None, title="",
                effort_pm=2.5, blocked_by=[], unblocks=["p1", "p3"]),
            row("p3", "UNKNOWN", score=1e-07, readiness=80.0, description="line\nbreak"),
            row("p4", None, mandatory=False, title="Tab\there & <there>")]),
        "links": (["project", "dataset", "relation", "required", "fit_for_task", "agreement",
                   "sharing_agreement"], [
            ["p1", "d1", "uses", True, "A1", None, None],
            ["p1", "d1", "produces", None, None, "signed", None],
            ["p2", "d9", "uses", False, "A2", None, None],
            ["gone", "d1", "uses", True, None, None, None]]),
        "dependencies": (["project", "depends_on", "note"], [
            ["p1", "p2", None], ["p1", "p2", "again"], ["p3", "p3", None], ["p2", "gone", None],
            ["p3", "p1", None]]),
        "partners": (["project", "organisation", "role"], [
            ["p1", "B1", "lead"], ["p1", "B1", None], ["p2", "NEW", "funder"],
            ["p1", "B1", "lead"], ["gone", "GLA", None]]),
    })


def graphml_by_networkx(content: snapshots.SnapshotContent) -> bytes:
    """Return the GraphML of a snapshot as build_graph and write_graphml make it."""
    frames = {}
    for data in content.tables():
        if data.spec.name in ("organisations", "datasets", "projects", "links", "dependencies",
                              "partners"):
            frames[data.spec.name] = pd.DataFrame(list(data.rows), columns=data.columns)
    projects = frames["projects"].rename(columns={"organisation": "owner", "score": "value"})
    projects = projects[["slug", "title", "status", "value", "mandatory", "cost_gbp",
                         "effort_pm", "theme", "owner", "readiness", "rank"]]
    graph = build_graph(projects, frames["datasets"], organisations=frames["organisations"],
                        dependencies=frames["dependencies"], links=frames["links"],
                        partners=frames["partners"])
    out = io.BytesIO()
    write_graphml(graph, out)
    return out.getvalue()


def export_file(content: snapshots.SnapshotContent, fmt: ExportFormat, table: str | None = None
            ) -> bytes:
    out = io.BytesIO()
    write_export(content, fmt, out, table)
    return out.getvalue()


def test_graphml_read_from_the_rows_is_build_graphs_own() -> None:
    content = _awkward_portfolio()
    assert export_file(content, ExportFormat.graphml) == graphml_by_networkx(content)


# Codes and slugs drawn from a few, so that rows repeat and refer to one another; text with
# what GraphML escapes or drops, and nulls, so that attributes first appear late.
CODE = st.sampled_from(["a", "b", "c&d", "e<f"])
GRAPH_TEXT = st.one_of(st.none(), st.sampled_from(["", "x", "a & b", "<i>", "line\r", "\x01",
                                                   "tab\there", "\u2028", "\xa0"]))
PROJECT_ROW = st.fixed_dictionaries({
    "title": GRAPH_TEXT, "organisation": st.one_of(st.none(), CODE),
    "status": st.one_of(st.none(), st.sampled_from(["proposed", "idea"])),
    "score": st.one_of(st.none(), st.floats(0, 100)), "mandatory": st.one_of(st.none(),
                                                                            st.booleans()),
    "cost_gbp": st.one_of(st.none(), st.integers(0, 10**7)), "theme": GRAPH_TEXT})


@settings(max_examples=120, deadline=None)
@given(st.lists(PROJECT_ROW, max_size=5),
       st.lists(st.tuples(CODE, GRAPH_TEXT, st.one_of(st.none(), CODE), GRAPH_TEXT), max_size=4),
       st.lists(st.tuples(st.integers(0, 5), CODE, st.sampled_from(["uses", "produces"]),
                          st.one_of(st.none(), st.booleans()), GRAPH_TEXT, GRAPH_TEXT),
                max_size=6),
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), max_size=6),
       # A role is part of its edge's key, and keys XML cannot hold are refused (as lxml does).
       st.lists(st.tuples(st.integers(0, 5), CODE, st.one_of(st.none(), CODE)), max_size=5))
def test_graphml_of_any_small_portfolio_is_build_graphs_own(projects, datasets, links, deps,
                                                            partners) -> None:
    columns = [c.name for c in snapshots.TABLE_BY_NAME["projects"].columns]
    slugs = [f"p{i}" for i in range(len(projects))]

    def project(slug: str, values: dict[str, Any]) -> list[Any]:
        row = [None] * len(columns)
        for name, value in {"slug": slug, **values}.items():
            row[columns.index(name)] = value
        return row

    def slug(i: int) -> str:
        return slugs[i] if i < len(slugs) else "gone"  # a row naming no project

    content = _content({
        "organisations": (["code", "name", "kind"], [["a", "Org & co", "gla"], ["b", None, None]]),
        "datasets": (["code", "title", "publisher", "access", "update_frequency"],
                     [[c, t, p, a, None] for c, t, p, a in datasets]),
        "projects": (columns, [project(s, v) for s, v in zip(slugs, projects, strict=True)]),
        "links": (["project", "dataset", "relation", "required", "fit_for_task", "agreement"],
                  [[slug(p), d, r, q, f, a] for p, d, r, q, f, a in links]),
        "dependencies": (["project", "depends_on"], [[slug(p), slug(q)] for p, q in deps]),
        "partners": (["project", "organisation", "role"],
                     [[slug(p), o, r] for p, o, r in partners]),
    })
    assert export_file(content, ExportFormat.graphml) == graphml_by_networkx(content)


def test_csv_and_data_package_from_lines_are_the_plain_writers_own() -> None:
    content = _awkward_portfolio()
    for table in ("projects", "datasets", "partners", "links"):
        assert (export_file(content, ExportFormat.csv, table)
                == export_file(parsed_only(content), ExportFormat.csv, table)), table
    assert (export_file(content, ExportFormat.datapackage)
            == export_file(parsed_only(content), ExportFormat.datapackage))


def _openpyxl_sheet(columns: list[Column], rows: list[list[Any]]) -> bytes:
    """Return the sheetData openpyxl's write-only sheet writes for rows, after a header row."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("t")
    sheet.append([c.name for c in columns])
    for row in rows:
        cells = []
        for column, value in zip(columns, row, strict=True):
            if value is not None and column.type == "string":
                value = neutralise(value)
            elif value is not None and column.type == "list":
                value = neutralise(";".join(value))
            elif value and column.type == "date":
                value = date.fromisoformat(value)
            elif value and column.type == "datetime":
                value = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
            cells.append(value)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    xml = zipfile.ZipFile(out).read("xl/worksheets/sheet1.xml")
    return xml[xml.index(b"</row>") + len(b"</row>"):xml.index(b"</sheetData>")]


XLSX_COLUMNS = [*COLUMNS, Column("day", "date"), Column("moment", "datetime")]
SHEET_TEXT = st.one_of(
    st.none(), st.text(alphabet=string.printable + "é£😀\u2028\x85\xa0", max_size=12),
    st.sampled_from(["", " lead", "trail ", "a & b < c > d", "=1+1", "x" * 40_000]))
XLSX_ROW = st.tuples(
    SHEET_TEXT, NUMBER, NUMBER, st.one_of(st.none(), st.booleans()),
    st.one_of(st.none(), st.lists(SHEET_TEXT.filter(lambda t: t is not None), max_size=3)),
    SHEET_TEXT, st.one_of(st.none(), st.just(""), st.dates().map(date.isoformat)),
    st.one_of(st.none(), st.just(""), st.datetimes(min_value=datetime(1901, 1, 1)).map(
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")))).map(list)


@settings(max_examples=150, deadline=None)
@given(st.lists(XLSX_ROW, max_size=8))
def test_xlsx_rows_are_the_xml_openpyxl_writes(rows: list[list[Any]]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    # A workbook whose dated styles are registered as openpyxl registers them (ids 1 and 2).
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("t")
    cells = SheetCells(XLSX_COLUMNS, lambda sample: WriteOnlyCell(sheet, value=sample).style_id)
    ours = b"".join(cells.chunks(iter([list(r) for r in rows])))
    expected = _openpyxl_sheet(XLSX_COLUMNS, rows)
    # Both workbooks give the dated styles their ids in the order the rows first use them.
    assert ours == expected


# Found in review: the comparison CSV wrote a changed flag as True/False where every other
# CSV of the portfolio writes true/false.
def test_the_comparison_csv_writes_flags_as_every_other_csv_does() -> None:
    from portfolio.services.exports.diff_csv import diff_csv

    diff = {"rank_moves": [], "projects": {"added": [], "removed": [], "changed": [{
        "slug": "p", "title": "P", "organisation": "GLA", "organisation_name": "GLA",
        "fields": {"mandatory": {"from": False, "to": True}}}]}}
    rows = list(csv.reader(io.StringIO(diff_csv(diff).decode())))
    assert rows[1][5:8] == ["mandatory", "false", "true"]


# Found in review: the file to edit in a spreadsheet had no byte-order mark, so Excel on
# Windows read it in the local code page ("Café" shown as "CafÃ©"); the import takes one.
def test_the_csv_to_edit_starts_with_a_byte_order_mark_and_imports_again() -> None:
    from portfolio.services.imports import read_sheet
    from portfolio.services.imports.editable import projects_csv

    content = projects_csv([dict.fromkeys(imports_columns(), None) | {
        "slug": "cafe", "title": "Café – £5’s", "owner": "GLA", "theme": "housing"}])
    assert content.startswith(b"\xef\xbb\xbf")
    sheet = read_sheet(content)
    assert sheet.header[0] == "slug" and "Café – £5’s" in sheet.rows[0][1]


def imports_columns() -> tuple[str, ...]:
    from portfolio.services.imports import COLUMNS

    return COLUMNS
