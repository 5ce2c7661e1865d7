"""Write a snapshot, or the live portfolio, as CSV, JSON, Parquet, XLSX, a Data Package or GraphML.

What each format holds:
- csv: one table (default: projects in rank order), UTF-8, RFC 4180; streamed.
- json: the whole snapshot, {"snapshot": {...}, "tables": {name: [row objects]}}; streamed.
- parquet: one table (default: projects), typed, with the snapshot's metadata in the schema.
- xlsx: an About sheet, then one sheet per table (continued on further sheets past Excel's
  row limit).
- datapackage: a zip of datapackage.json (Frictionless Tabular Data Package: a table schema per
  resource with primary and foreign keys, licence, sources, created time, snapshot hash) and one
  CSV per table under data/.
- graphml: the graph of projects, datasets and organisations.

Every export of the same snapshot is byte-identical: rows come in the snapshot's canonical
order, and zip members, workbook properties and file times carry the snapshot's own time.
Text cells in CSV, XLSX and the Data Package's CSVs go through one function,
`portfolio.text.neutralise`: control characters are stripped first, then text a spreadsheet
would run as a formula (starting with = + - @, their full-width forms, a tab or a carriage
return, after any zero-width character) gets a leading apostrophe (OWASP ASVS V1.2.10). JSON and
Parquet are data formats and keep text as stored; GraphML drops what XML cannot hold.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from itertools import islice
from typing import IO, Any, BinaryIO

import orjson

from portfolio.errors import Invalid
from portfolio.services.snapshots import (
    SOURCE_TITLE,
    TABLE_BY_NAME,
    TABLE_NAMES,
    Column,
    SnapshotContent,
    TableData,
)
from portfolio.text import neutralise

DEFAULT_TABLE = "projects"

CHUNK_BYTES = 1 << 20
CSV_BATCH_ROWS = 2000
PARQUET_ROW_GROUP = 65_536
XLSX_MAX_ROWS = 1_048_576
LICENCE = {
    "name": "OGL-UK-3.0",
    "title": "Open Government Licence v3.0",
    "path": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
}


def check_table(fmt: ExportFormat, table: str | None) -> str:
    """Return the table a single-table format exports, refusing a table for whole exports."""
    if table is None:
        return DEFAULT_TABLE
    if table not in TABLE_BY_NAME:
        raise Invalid({"table": f"no table {table!r}; choose one of {', '.join(TABLE_NAMES)}"})
    if not FORMATS[fmt].single_table and table != DEFAULT_TABLE:
        chosen = " and ".join(f.name for f in FORMATS.values() if f.single_table)
        raise Invalid({"table": f"{fmt} exports every table; a table is chosen only for "
                                f"{chosen}"})
    return table


def export_filename(content: SnapshotContent, fmt: ExportFormat, table: str | None = None) -> str:
    """Return the file name of an export."""
    stem = (f"portfolio-snapshot-{content.id}" if content.id is not None
            else f"portfolio-live-{content.created_at:%Y%m%dT%H%M%SZ}")
    if FORMATS[fmt].single_table and table and table != DEFAULT_TABLE:
        stem += f"-{table}"
    return f"{stem}.{FORMATS[fmt].extension}"


# Single-table files name the organisations beside their codes: people read names, joins use
# codes. The code column stays; its name column follows it.
NAMED_CODES = {"projects": "organisation", "datasets": "publisher", "partners": "organisation"}


def named_table(content: SnapshotContent, table: str, *, numbers_as_text: bool) -> TableData:
    """Return a table with an `<code column>_name` column after its organisation code."""
    code = NAMED_CODES.get(table)
    if code is None:
        return content.table(table, numbers_as_text=numbers_as_text)
    organisations = content.table("organisations")
    at_code, at_name = organisations.columns.index("code"), organisations.columns.index("name")
    names = {row[at_code]: row[at_name] for row in organisations.rows}
    # The organisations table comes first in a snapshot, so the named table is read after it.
    data = content.table(table, numbers_as_text=numbers_as_text)
    if code not in data.columns:
        return data
    at = data.columns.index(code) + 1
    name = f"{code}_name"
    spec = replace(data.spec, columns=(*data.spec.columns, Column(
        name, "string", f"Name of the organisation in {code}.")))

    def rows() -> Iterator[list[Any]]:
        for row in data.rows:
            row.insert(at, names.get(row[at - 1]))
            yield row

    return TableData(spec, [*data.columns[:at], name, *data.columns[at:]], rows())


def stream_export(content: SnapshotContent, fmt: ExportFormat,
                  table: str | None = None) -> Iterator[bytes]:
    """Yield an export in chunks; CSV and JSON never hold the whole file."""
    table = check_table(fmt, table)
    stream = FORMATS[fmt].stream
    if stream is not None:
        return stream(content, table)
    return _spooled(lambda out: write_export(content, fmt, out, table))


def write_export(content: SnapshotContent, fmt: ExportFormat, out: BinaryIO,
                 table: str | None = None) -> None:
    """Write an export to a binary file (seekable for parquet, xlsx and datapackage)."""
    FORMATS[fmt].write(content, out, check_table(fmt, table))


def _copy(chunks: Iterator[bytes], out: IO[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)


def _spooled(write: Callable[[BinaryIO], None]) -> Iterator[bytes]:
    """Write a format that needs a seekable file to a temporary file, then yield it."""
    with tempfile.TemporaryFile() as spool:
        write(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


# ---------------------------------------------------------------------------------------------
# CSV


def _tabular(columns: list[Column], *, safe: bool) -> Callable[[list[Any]], list[Any]]:
    """Return a function that turns a snapshot row into CSV cells (in place, for speed)."""
    texts = [i for i, c in enumerate(columns) if c.type == "string"] if safe else []
    flags = [i for i, c in enumerate(columns) if c.type == "boolean"]
    lists = [i for i, c in enumerate(columns) if c.is_list]

    def convert(row: list[Any]) -> list[Any]:
        for i in texts:
            value = row[i]
            if value:
                row[i] = neutralise(value)
        for i in flags:
            value = row[i]
            if value is not None:
                row[i] = "true" if value else "false"
        for i in lists:
            value = row[i]
            if value is not None:
                # Only a cell's first character can start a formula.
                row[i] = neutralise(";".join(value)) if safe else ";".join(value)
        return row

    return convert


def csv_chunks(data: TableData, *, safe: bool = True, digest: Any = None) -> Iterator[bytes]:
    """Yield a table as UTF-8 CSV (header first), a megabyte or so at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(data.columns)
    convert = _tabular(data.column_specs(), safe=safe)
    rows = data.rows
    while True:
        batch = [convert(row) for row in islice(rows, CSV_BATCH_ROWS)]
        if batch:
            writer.writerows(batch)
        if buffer.tell() >= CHUNK_BYTES or not batch:
            chunk = buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if chunk:
                if digest is not None:
                    digest.update(chunk)
                yield chunk
        if not batch:
            return


# ---------------------------------------------------------------------------------------------
# JSON


def snapshot_header(content: SnapshotContent) -> dict[str, Any]:
    """Return what an export says about its snapshot."""
    return {"id": content.id, "content_hash": f"sha256:{content.content_hash}",
            **content.meta, "row_counts": content.row_counts}


def json_chunks(content: SnapshotContent) -> Iterator[bytes]:
    """Yield the whole snapshot as one JSON document, one row object per line."""
    dumps = orjson.dumps
    parts: list[bytes] = [b'{"snapshot": ', dumps(snapshot_header(content)), b',\n"tables": {']
    size = 0
    first_table = True
    for data in content.tables():
        parts.append((b"" if first_table else b",") + b"\n" + dumps(data.spec.name) + b": [")
        first_table = False
        columns = data.columns
        separator = b"\n"
        for row in data.rows:
            text = dumps(dict(zip(columns, row, strict=True)))
            parts.append(separator)
            parts.append(text)
            separator = b",\n"
            size += len(text)
            if size >= CHUNK_BYTES:
                yield b"".join(parts)
                parts, size = [], 0
        parts.append(b"\n]")
    parts.append(b"\n}}\n")
    yield b"".join(parts)


# ---------------------------------------------------------------------------------------------
# Parquet


def _arrow_type(column: Column):
    import pyarrow as pa

    return {
        "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
        "date": pa.date32(), "datetime": pa.timestamp("s", tz="UTC"),
        "list": pa.list_(pa.string()),
    }.get(column.type, pa.string())


def write_parquet(content: SnapshotContent, out: BinaryIO, table: str = DEFAULT_TABLE) -> None:
    """Write one table as Parquet in row groups, with the snapshot's metadata in the schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = named_table(content, table, numbers_as_text=False)
    specs = data.column_specs()
    schema = pa.schema(
        [pa.field(c.name, _arrow_type(c), metadata={"description": c.description} if
                  c.description else None) for c in specs],
        metadata={"portfolio.snapshot": json.dumps(snapshot_header(content), sort_keys=True),
                  "portfolio.table": table},
    )
    # Text columns are read as strings first, then cast: dates and times are ISO text.
    staged = [pa.string() if c.type in ("date", "datetime") else _arrow_type(c) for c in specs]

    def batch_of(rows: list[list[Any]]) -> Any:
        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in specs]
        arrays = [pa.array(list(values), type=kind).cast(field.type)
                  for values, kind, field in zip(columns, staged, schema, strict=True)]
        return pa.record_batch(arrays, schema=schema)

    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        rows = data.rows
        wrote = False
        while batch := [row for _, row in zip(range(PARQUET_ROW_GROUP), rows, strict=False)]:
            writer.write_batch(batch_of(batch), row_group_size=PARQUET_ROW_GROUP)
            wrote = True
        if not wrote:
            writer.write_batch(batch_of([]))


# ---------------------------------------------------------------------------------------------
# Zip files with fixed times


class FixedTimeZip(zipfile.ZipFile):
    """A zip whose members all carry one given time and fixed attributes (stable bytes)."""

    def __init__(self, file: Any, moment: datetime, **kwargs: Any) -> None:
        super().__init__(file, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True, **kwargs)
        self.moment = (max(moment.year, 1980), moment.month, moment.day, moment.hour,
                       moment.minute, moment.second)

    def member(self, name: str) -> zipfile.ZipInfo:
        """Return the header of a member written now."""
        info = zipfile.ZipInfo(name, date_time=self.moment)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o644 << 16
        return info

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any,
                 **kwargs: Any) -> None:
        """Write a member from bytes or text with the fixed time."""
        name = (zinfo_or_arcname.filename if isinstance(zinfo_or_arcname, zipfile.ZipInfo)
                else zinfo_or_arcname)
        super().writestr(self.member(name), data)

    def write(self, filename: Any, arcname: Any = None, *args: Any,
              **kwargs: Any) -> None:
        """Copy a file in as a member with the fixed time, without reading it whole."""
        with open(filename, "rb") as source, self.open(
            self.member(str(arcname or filename)), "w", force_zip64=True
        ) as target:
            shutil.copyfileobj(source, target, CHUNK_BYTES)


# ---------------------------------------------------------------------------------------------
# XLSX


def _xlsx_converter(columns: list[Column]) -> Callable[[list[Any]], list[Any]]:
    """Return a function that turns a snapshot row into worksheet values."""
    texts = [i for i, c in enumerate(columns) if c.type == "string"]
    lists = [i for i, c in enumerate(columns) if c.is_list]
    days = [i for i, c in enumerate(columns) if c.type == "date"]
    times = [i for i, c in enumerate(columns) if c.type == "datetime"]

    def convert(row: list[Any]) -> list[Any]:
        for i in texts:
            value = row[i]
            if value:
                row[i] = neutralise(value)
        for i in lists:
            value = row[i]
            if value is not None:
                row[i] = neutralise(";".join(value))
        for i in days:
            if row[i]:
                row[i] = date.fromisoformat(row[i])
        for i in times:
            if row[i]:
                # Excel has no time zones: the time is UTC, as the column's name says.
                row[i] = datetime.strptime(row[i], "%Y-%m-%dT%H:%M:%SZ")
        return row

    return convert


def write_xlsx(content: SnapshotContent, out: BinaryIO) -> None:
    """Write an About sheet and one sheet per table, in openpyxl's write-only mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.writer.excel import ExcelWriter

    moment = content.created_at.replace(tzinfo=None)
    workbook = Workbook(write_only=True)
    workbook.properties.creator = SOURCE_TITLE
    workbook.properties.title = neutralise(content.meta["label"])
    workbook.properties.created = moment
    workbook.properties.modified = moment
    bold = Font(bold=True)

    def header(sheet: Any, names: list[str]) -> None:
        cells = []
        for name in names:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            cells.append(cell)
        sheet.append(cells)

    about = workbook.create_sheet("About")
    header(about, ["property", "value"])
    for key, value in _about_rows(content):
        about.append([key, neutralise(str(value))])
    for data in content.tables():
        convert = _xlsx_converter(data.column_specs())
        part, written, sheet = 1, 0, None
        for row in data.rows:
            if sheet is None or written == XLSX_MAX_ROWS - 1:
                sheet = workbook.create_sheet(data.spec.name if part == 1
                                              else f"{data.spec.name} ({part})")
                sheet.freeze_panes = "A2"
                header(sheet, data.columns)
                part, written = part + 1, 0
            sheet.append(convert(row))
            written += 1
        if sheet is None:
            sheet = workbook.create_sheet(data.spec.name)
            header(sheet, data.columns)
    # openpyxl's save() stamps "modified" with the clock and zips with file times; its writer,
    # given our zip, keeps the snapshot's time everywhere.
    with FixedTimeZip(out, content.created_at) as archive:
        ExcelWriter(workbook, archive).write_data()


def _about_rows(content: SnapshotContent) -> list[tuple[str, Any]]:
    meta = content.meta
    rows: list[tuple[str, Any]] = [
        ("snapshot", content.id if content.id is not None else "live portfolio"),
        ("label", meta["label"]), ("author", meta["author"]),
        ("created (UTC)", meta["created_at"]),
        ("content hash", f"sha256:{content.content_hash}"),
        ("weight profile", f"{meta['profile']['name']} v{meta['profile']['version']}"),
        ("method version", meta["method_version"]), ("portfolio revision", meta["revision"]),
        ("source", meta["source"]), ("licence", LICENCE["title"]),
        ("note", "Text starting with = + - @ has a leading apostrophe so that it is not run as "
                 "a formula."),
    ]
    rows += [(f"rows in {name}", count) for name, count in content.row_counts.items()]
    return rows


# ---------------------------------------------------------------------------------------------
# Frictionless Data Package


def _field(column: Column) -> dict[str, Any]:
    """Return a Table Schema field for a column."""
    out: dict[str, Any] = {"name": column.name,
                           "type": "string" if column.is_list else column.type}
    if column.description:
        out["description"] = column.description
    if column.type == "boolean":
        out["trueValues"], out["falseValues"] = ["true"], ["false"]
    constraints: dict[str, Any] = {}
    if column.required:
        constraints["required"] = True
    if column.enum:
        constraints["enum"] = list(column.enum)
    if constraints:
        out["constraints"] = constraints
    return out


def package_name(content: SnapshotContent) -> str:
    """Return the Data Package's name (lower case, digits, '-', '.', '_')."""
    return (f"london-data-portfolio-snapshot-{content.id}" if content.id is not None
            else "london-data-portfolio-live")


def write_datapackage(content: SnapshotContent, out: BinaryIO) -> None:
    """Write a zip holding datapackage.json and one CSV per table under data/."""
    meta = content.meta
    resources = []
    with FixedTimeZip(out, content.created_at) as archive:
        for data in content.tables(numbers_as_text=True):
            path = f"data/{data.spec.name}.csv"
            digest = hashlib.sha256()
            size = 0
            with archive.open(archive.member(path), "w", force_zip64=True) as member:
                for chunk in csv_chunks(data, digest=digest):
                    member.write(chunk)
                    size += len(chunk)
            schema: dict[str, Any] = {
                "fields": [_field(c) for c in data.column_specs()],
                "primaryKey": list(data.spec.primary_key),
                "missingValues": [""],
            }
            if data.spec.foreign_keys:
                schema["foreignKeys"] = [
                    {"fields": list(fields), "reference": {"resource": resource,
                                                           "fields": list(ref)}}
                    for fields, resource, ref in data.spec.foreign_keys
                ]
            resources.append({
                "name": data.spec.name, "path": path, "profile": "tabular-data-resource",
                "title": data.spec.title, "description": data.spec.description,
                "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
                "hash": f"sha256:{digest.hexdigest()}", "bytes": size, "schema": schema,
            })
        descriptor = {
            "profile": "tabular-data-package",
            "name": package_name(content),
            "title": f"{SOURCE_TITLE}: {meta['label']}",
            "description": (
                "A snapshot of the London data portfolio: organisations, datasets, projects in "
                "rank order, their links, dependencies, partners and assessments, with the "
                f"criteria and the weights of the profile {meta['profile']['name']!r} "
                f"(version {meta['profile']['version']}) under scoring method "
                f"{meta['method_version']}. Text starting with = + - @ carries a leading "
                "apostrophe so that spreadsheets do not run it as a formula."
            ),
            "created": meta["created_at"],
            "licenses": [LICENCE],
            "sources": [{"title": SOURCE_TITLE}],
            "contributors": [{"title": meta["author"], "role": "author"}],
            "snapshot": {
                "id": content.id, "label": meta["label"], "author": meta["author"],
                "created_at": meta["created_at"],
                "content_hash": f"sha256:{content.content_hash}",
                "method_version": meta["method_version"], "profile": meta["profile"]["name"],
                "profile_version": meta["profile"]["version"], "revision": meta["revision"],
            },
            "resources": resources,
        }
        archive.writestr("datapackage.json",
                         json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------------
# GraphML


def write_graphml(content: SnapshotContent, out: BinaryIO) -> None:
    """Write the snapshot's graph of projects, datasets and organisations as GraphML."""
    import pandas as pd

    from scoring.graph import build_graph
    from scoring.graph import write_graphml as write_graph

    frames: dict[str, pd.DataFrame] = {}
    for data in content.tables():
        if data.spec.name in ("criteria", "weights", "assessments"):
            continue
        frames[data.spec.name] = pd.DataFrame(list(data.rows), columns=data.columns)
    projects = frames["projects"].rename(columns={"organisation": "owner", "score": "value"})
    projects = projects[["slug", "title", "status", "value", "mandatory", "cost_gbp",
                         "effort_pm", "theme", "owner", "readiness", "rank"]]
    graph = build_graph(projects, frames["datasets"], organisations=frames["organisations"],
                        dependencies=frames["dependencies"], links=frames["links"],
                        partners=frames["partners"])
    write_graph(graph, out)


# ---------------------------------------------------------------------------------------------
# A comparison of two snapshots as one CSV

DIFF_COLUMNS = ["change", "slug", "title", "organisation", "organisation_name", "field",
                "before", "after", "causes"]


def diff_rows(diff: dict[str, Any]) -> Iterator[list[Any]]:
    """Yield a snapshot comparison as rows: moves, additions, removals, then field changes."""
    for m in diff["rank_moves"]:
        if m["rank_to"] is None and m["rank_from"] is not None:
            change = "left the ranking"
        elif m["rank_from"] is None and m["rank_to"] is not None:
            change = "entered the ranking"
        else:
            change = "rank moved" if m["rank_change"] else "score changed"
        yield [change, m["slug"], m["title"], m["organisation"], m["organisation_name"], "rank",
               m["rank_from"], m["rank_to"], ";".join(m["causes"])]
    for kind, items in (("added", diff["projects"]["added"]),
                        ("removed", diff["projects"]["removed"])):
        for p in items:
            yield [kind, p["slug"], p["title"], p["organisation"], p["organisation_name"],
                   "rank", None if kind == "added" else p["rank"],
                   p["rank"] if kind == "added" else None, ""]
    for c in diff["projects"]["changed"]:
        for name, values in c["fields"].items():
            yield ["field changed", c["slug"], c["title"], c["organisation"],
                   c["organisation_name"], name, values["from"], values["to"], ""]


def diff_csv(diff: dict[str, Any]) -> bytes:
    """Return a snapshot comparison as UTF-8 CSV, text cells neutralised for spreadsheets."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(DIFF_COLUMNS)
    for row in diff_rows(diff):
        writer.writerow([neutralise(v) if isinstance(v, str) and v else v for v in row])
    return buffer.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------------------------
# The registry: every format once. The CLI, the API, the download routes and the snapshots page
# all read it; a new format is an entry here and its writer.

Writer = Callable[[SnapshotContent, BinaryIO, str], None]
Streamer = Callable[[SnapshotContent, str], Iterator[bytes]]


@dataclass(frozen=True)
class Format:
    """An export format: its name, how it is served, what it holds and what writes it."""

    name: str
    media_type: str
    extension: str
    note: str
    write: Writer
    # Single-table formats export one table (projects unless another is chosen).
    single_table: bool = False
    # Formats that can be sent in chunks as they are written, without a temporary file.
    stream: Streamer | None = None


def _whole(write: Callable[[SnapshotContent, BinaryIO], None]) -> Writer:
    """Adapt a writer of the whole snapshot to the registry's (content, out, table) call."""
    return lambda content, out, _table: write(content, out)


def _from_chunks(stream: Streamer) -> Writer:
    """Write a streamed format to a file."""
    return lambda content, out, table: _copy(stream(content, table), out)


def _csv_table(content: SnapshotContent, table: str) -> Iterator[bytes]:
    return csv_chunks(named_table(content, table, numbers_as_text=True))


def _json_document(content: SnapshotContent, _table: str) -> Iterator[bytes]:
    return json_chunks(content)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("csv", "text/csv; charset=utf-8", "csv",
           "Projects in rank order, one row each (UTF-8).",
           _from_chunks(_csv_table), single_table=True, stream=_csv_table),
    Format("json", "application/json", "json",
           "The whole snapshot: every table, one object per row.",
           _from_chunks(_json_document), stream=_json_document),
    Format("parquet", "application/vnd.apache.parquet", "parquet",
           "Projects in rank order, typed, for pandas, R, DuckDB or Spark.",
           write_parquet, single_table=True),
    Format("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx",
           "A workbook: an About sheet, then one sheet per table.", _whole(write_xlsx)),
    Format("datapackage", "application/zip", "zip",
           "A Frictionless Data Package (zip): datapackage.json with a table schema, keys and "
           "licence, and one CSV per table.", _whole(write_datapackage)),
    Format("graphml", "application/graphml+xml", "graphml",
           "The graph of projects, datasets and organisations, for Gephi or networkx.",
           _whole(write_graphml)),
)}

# The formats' names as an enum, so routes validate and document them.
ExportFormat = StrEnum("ExportFormat", {name: name for name in FORMATS})  # type: ignore[misc]
MEDIA_TYPES = {name: f.media_type for name, f in FORMATS.items()}
FORMAT_NAMES = ", ".join(FORMATS)
