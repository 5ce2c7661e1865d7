"""Exports of a snapshot: byte-identical every time, open formats, no formulas in spreadsheets."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest
from openpyxl import load_workbook

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.services import exports, snapshots
from portfolio.services import ranking as ranking_service
from portfolio.services.exports import ExportFormat
from portfolio.settings import Settings
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database
from tests.factories import make_project

FORMULAS = {
    "title": "=HYPERLINK(\"http://evil.example\",\"Click\")",
    "description": "@SUM(1+1)*cmd|' /C calc'!A0",
    "mandatory_justification": "+44 statutory duty",
}


@pytest.fixture(scope="module", params=BACKENDS)
def snapshot(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[snapshots.SnapshotContent]:
    """Snapshot London, plus a project whose text a spreadsheet would run, once per backend.

    Exports read only the snapshot's content, so one snapshot serves every test of a backend.
    """
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("exports") / "london.db"
        shutil.copyfile(request.getfixturevalue("sqlite_london_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = create_postgres_database(request.getfixturevalue("postgres_london_template"))
    db = Database(Settings(database_url=url))
    try:
        with db.write() as session:
            make_project(session, "formula-test", owner="E09000007", theme="housing",
                         status="proposed", mandatory=True, **FORMULAS)
        with pytest.MonkeyPatch.context() as patch:
            # Fewer robustness samples: these tests are about files, not robustness.
            patch.setattr(ranking_service, "DEFAULT_SAMPLES", 60)
            made = snapshots.create_snapshot(db, actor=SYSTEM, label="=cmd|' /C calc'!A0")
        with db.read() as session:
            yield snapshots.load_content(session=session, snapshot_id=made["id"])
    finally:
        db.dispose()
        if request.param != "sqlite":
            drop_postgres_database(url)


def export(content: snapshots.SnapshotContent, fmt: ExportFormat, table: str | None = None
           ) -> bytes:
    return b"".join(exports.stream_export(content, fmt, table))


def test_the_format_enum_routes_validate_against_is_the_registry() -> None:
    assert [f.value for f in ExportFormat] == list(exports.FORMATS)
    assert {f.name for f in exports.FORMATS.values() if f.single_table} == {"csv", "parquet"}


def test_every_format_exports_the_same_snapshot_to_the_same_bytes(
    snapshot: snapshots.SnapshotContent,
) -> None:
    for fmt in ExportFormat:
        first = export(snapshot, fmt)
        again = snapshots.SnapshotContent(header=bytes(snapshot.header),
                                          body=bytes(snapshot.body),
                                          content_hash=snapshot.content_hash, id=snapshot.id,
                                          row_counts=dict(snapshot.row_counts))
        buffer = io.BytesIO()
        exports.write_export(again, fmt, buffer)
        assert first, fmt
        assert first == buffer.getvalue(), f"{fmt} differs between two exports"


def test_csv_is_projects_in_rank_order_with_formulas_neutralised(
    snapshot: snapshots.SnapshotContent,
) -> None:
    rows = list(csv.DictReader(io.StringIO(export(snapshot, ExportFormat.csv).decode())))
    assert len(rows) == snapshot.row_counts["projects"]
    order = [int(r["order"]) for r in rows if r["order"]]
    assert order == sorted(order) and order[0] == 1
    for view in ("candidates", "committed"):  # the rank is the place in the project's view
        ranks = [int(r["rank"]) for r in rows if r["view"] == view]
        assert ranks == list(range(1, len(ranks) + 1))
    mine = next(r for r in rows if r["slug"] == "formula-test")
    for column, text in FORMULAS.items():
        assert mine[column] == "'" + text
    assert mine["mandatory"] == "true"
    links = list(csv.DictReader(io.StringIO(
        export(snapshot, ExportFormat.csv, "links").decode())))
    assert len(links) == snapshot.row_counts["links"]
    assert list(links[0]) == ["project", "dataset", "relation", "required", "fit_for_task",
                              "agreement", "sharing_agreement"]


def test_xlsx_neutralises_formulas_and_holds_one_sheet_per_table(
    snapshot: snapshots.SnapshotContent,
) -> None:
    workbook = load_workbook(io.BytesIO(export(snapshot, ExportFormat.xlsx)))
    assert workbook.sheetnames == ["About", *snapshots.TABLE_NAMES]
    assert workbook.properties.created == snapshot.created_at.replace(tzinfo=None)
    about = dict(workbook["About"].iter_rows(min_row=2, values_only=True))
    assert about["label"] == "'=cmd|' /C calc'!A0"
    assert about["content hash"] == f"sha256:{snapshot.content_hash}"
    sheet = workbook["projects"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[header.index("slug")].value ==
               "formula-test")
    for column, text in FORMULAS.items():
        cell = row[header.index(column)]
        assert cell.data_type == "s" and cell.value == "'" + text
    assert sheet.max_row == snapshot.row_counts["projects"] + 1


def test_json_and_parquet_keep_the_data_as_it_is(snapshot: snapshots.SnapshotContent) -> None:
    import pyarrow.parquet as pq

    document = json.loads(export(snapshot, ExportFormat.json))
    assert document["snapshot"]["content_hash"] == f"sha256:{snapshot.content_hash}"
    assert list(document["tables"]) == list(snapshots.TABLE_NAMES)
    mine = next(p for p in document["tables"]["projects"] if p["slug"] == "formula-test")
    assert {k: mine[k] for k in FORMULAS} == FORMULAS
    assert isinstance(mine["unblocks"], list)

    table = pq.read_table(io.BytesIO(export(snapshot, ExportFormat.parquet)))
    assert table.num_rows == snapshot.row_counts["projects"]
    titles = dict(zip(table.column("slug").to_pylist(), table.column("title").to_pylist(),
                      strict=True))
    assert titles["formula-test"] == FORMULAS["title"]
    assert str(table.schema.field("start_date").type) == "date32[day]"
    meta = json.loads(table.schema.metadata[b"portfolio.snapshot"])
    assert meta["content_hash"] == f"sha256:{snapshot.content_hash}"


def test_datapackage_is_a_valid_frictionless_package_with_keys_licence_and_hash(
    snapshot: snapshots.SnapshotContent, tmp_path: Path,
) -> None:
    import frictionless

    with zipfile.ZipFile(io.BytesIO(export(snapshot, ExportFormat.datapackage))) as archive:
        moment = snapshot.created_at
        # Zip keeps time to two seconds.
        assert {i.date_time for i in archive.infolist()} == {
            (*moment.timetuple()[:5], moment.second // 2 * 2)}
        archive.extractall(tmp_path)
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    assert descriptor["licenses"][0]["name"] == "OGL-UK-3.0"
    assert descriptor["sources"] and descriptor["created"] == snapshot.meta["created_at"]
    assert descriptor["snapshot"]["content_hash"] == f"sha256:{snapshot.content_hash}"
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert list(resources) == list(snapshots.TABLE_NAMES)
    assert resources["projects"]["schema"]["primaryKey"] == ["slug"]
    assert {"fields": ["project"], "reference": {"resource": "projects", "fields": ["slug"]}} in (
        resources["links"]["schema"]["foreignKeys"])
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]


def test_datapackage_members_are_deflated_at_its_level(
    snapshot: snapshots.SnapshotContent,
) -> None:
    """A member's deflated bytes are zlib's at the package's level (4), not the default (6)."""
    import zlib

    from portfolio.services.exports.to_datapackage import DEFLATE_LEVEL

    body = export(snapshot, ExportFormat.datapackage)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        info = archive.getinfo("data/assessments.csv")
        text = archive.read(info)

    def deflated(level: int) -> int:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
        return len(packer.compress(text) + packer.flush())

    assert deflated(DEFLATE_LEVEL) != deflated(6)  # the check below can tell them apart
    assert info.compress_size == deflated(DEFLATE_LEVEL)


def test_graphml_reads_back_as_the_snapshot_graph(snapshot: snapshots.SnapshotContent,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "portfolio.graphml"
    path.write_bytes(export(snapshot, ExportFormat.graphml))
    graph = nx.read_graphml(path)
    projects = [n for n, d in graph.nodes(data=True) if d.get("kind") == "project"]
    assert len(projects) == snapshot.row_counts["projects"]
    assert graph.nodes["project:formula-test"]["label"] == FORMULAS["title"]


def test_csv_streams_in_chunks_rather_than_one_file(
    snapshot: snapshots.SnapshotContent, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = export(snapshot, ExportFormat.csv, "assessments")
    monkeypatch.setattr(exports.to_csv, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(exports.to_csv, "CSV_BATCH_ROWS", 50)
    chunks = list(exports.stream_export(snapshot, ExportFormat.csv, "assessments"))
    assert len(chunks) > 5 and max(len(c) for c in chunks) < len(whole) / 4
    assert b"".join(chunks) == whole


def test_a_table_is_chosen_only_for_single_table_formats(
    snapshot: snapshots.SnapshotContent,
) -> None:
    with pytest.raises(Invalid, match="every table"):
        export(snapshot, ExportFormat.xlsx, "links")
    with pytest.raises(Invalid, match="no table"):
        export(snapshot, ExportFormat.csv, "users")


def test_the_live_portfolio_exports_without_storing_a_snapshot(
    london: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking_service, "DEFAULT_SAMPLES", 60)
    content, _run = snapshots.build_content(london, actor=SYSTEM, label="Live portfolio")
    rows = list(csv.DictReader(io.StringIO(export(content, ExportFormat.csv).decode())))
    with london.read() as session:
        assert snapshots.list_snapshots(session=session, actor=SYSTEM) == []
    assert len(rows) == content.row_counts["projects"] > 50
    assert exports.export_filename(content, ExportFormat.csv).startswith("portfolio-live-")


def test_csv_and_parquet_name_the_organisation_beside_its_code(
    snapshot: snapshots.SnapshotContent,
) -> None:
    import pyarrow.parquet as pq

    rows = list(csv.DictReader(io.StringIO(export(snapshot, ExportFormat.csv).decode("utf-8"))))
    header = list(rows[0])
    assert header.index("organisation_name") == header.index("organisation") + 1
    camden = next(r for r in rows if r["slug"] == "formula-test")
    assert (camden["organisation"], camden["organisation_name"]) == ("E09000007", "Camden")
    datasets = export(snapshot, ExportFormat.csv, "datasets").decode("utf-8").splitlines()[0]
    assert "publisher,publisher_name" in datasets
    table = pq.read_table(io.BytesIO(export(snapshot, ExportFormat.parquet)))
    named = dict(zip(table.column("organisation").to_pylist(),
                     table.column("organisation_name").to_pylist(), strict=True))
    assert named["E09000007"] == "Camden"


def test_graphml_read_from_the_snapshot_is_build_graphs_own(
    snapshot: snapshots.SnapshotContent,
) -> None:
    from tests.portfolio.test_export_writers import graphml_by_networkx

    assert export(snapshot, ExportFormat.graphml) == graphml_by_networkx(snapshot)


def test_csv_and_data_package_rewritten_from_lines_are_the_plain_writers_own(
    snapshot: snapshots.SnapshotContent,
) -> None:
    from tests.portfolio.test_export_writers import export_file, parsed_only

    for table in ("projects", "datasets", "partners", "links", "assessments"):
        assert (export(snapshot, ExportFormat.csv, table)
                == export_file(parsed_only(snapshot), ExportFormat.csv, table)), table
    assert (export(snapshot, ExportFormat.datapackage)
            == export_file(parsed_only(snapshot), ExportFormat.datapackage))
