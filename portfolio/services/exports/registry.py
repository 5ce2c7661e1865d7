"""The registry: every format once. The CLI, the API, the download routes and the snapshots
page all read it; a new format is an entry here and its writer module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from portfolio.actors import Actor
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.services.exports.common import DEFAULT_TABLE, copy_chunks, spooled
from portfolio.services.exports.kept import PROJECTS_CSV, inflated, kept_copy
from portfolio.services.exports.to_csv import table_csv
from portfolio.services.exports.to_datapackage import write_datapackage
from portfolio.services.exports.to_graphml import write_graphml
from portfolio.services.exports.to_json import json_chunks
from portfolio.services.exports.to_parquet import write_parquet
from portfolio.services.exports.to_xlsx import write_xlsx
from portfolio.services.snapshots import (
    TABLE_BY_NAME,
    TABLE_NAMES,
    SnapshotContent,
    build_content,
)


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


def live_tables(fmt: ExportFormat, table: str | None) -> frozenset[str] | None:
    """Return the tables a live export builds: a single-table format's own and the
    organisations that name its codes, or None (every table) for the other formats.
    """
    if not FORMATS[fmt].single_table:
        return None
    return frozenset({check_table(fmt, table), "organisations"})


def live_content(db: Database, actor: Actor, fmt: ExportFormat,
                 table: str | None = None) -> SnapshotContent:
    """Serialise the portfolio as it is now for an export, building only the tables it needs."""
    content, _run = build_content(db, actor=actor, label="Live portfolio",
                                  tables=live_tables(fmt, table))
    return content


def export_filename(content: SnapshotContent, fmt: ExportFormat, table: str | None = None) -> str:
    """Return the file name of an export."""
    stem = (f"portfolio-snapshot-{content.id}" if content.id is not None
            else f"portfolio-live-{content.created_at:%Y%m%dT%H%M%SZ}")
    if FORMATS[fmt].single_table and table and table != DEFAULT_TABLE:
        stem += f"-{table}"
    return f"{stem}.{FORMATS[fmt].extension}"


def stream_export(content: SnapshotContent, fmt: ExportFormat,
                  table: str | None = None) -> Iterator[bytes]:
    """Yield an export in chunks; CSV and JSON never hold the whole file."""
    table = check_table(fmt, table)
    stream = FORMATS[fmt].stream
    if stream is not None:
        return stream(content, table)
    return spooled(lambda out: write_export(content, fmt, out, table))


def write_export(content: SnapshotContent, fmt: ExportFormat, out: BinaryIO,
                 table: str | None = None) -> None:
    """Write an export to a binary file (seekable for parquet, xlsx and datapackage)."""
    FORMATS[fmt].write(content, out, check_table(fmt, table))


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
    return lambda content, out, table: copy_chunks(stream(content, table), out)


def _csv_table(content: SnapshotContent, table: str) -> Iterator[bytes]:
    kept = kept_copy(content, PROJECTS_CSV) if table == DEFAULT_TABLE else None
    if kept is not None:
        return inflated(kept)
    return table_csv(content, table)


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
