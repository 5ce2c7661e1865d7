"""Snapshots: freeze the portfolio, its weights and its ranking; list, verify and compare them.

The canonical serialisation (format version 1) is UTF-8 JSON Lines, every line written with
sorted keys, no spaces, no NaN and non-ASCII characters as they are:

    {"format": "london-data-portfolio-snapshot", "format_version": 1, "meta": {...}}
    {"columns": [...], "table": "organisations"}
    ["GLA", "Greater London Authority", "gla"]
    ...

An object line starts a table; the array lines after it are its rows, in the order of the
table's columns. Tables come in the order of TABLES (every foreign key points at an earlier
table); rows are sorted by primary key in code-point order, except projects, which are in rank
order (unranked projects last, by slug). The content hash is the sha256 of these bytes.

The database keeps the first line in the snapshot's row and the rest (the tables) zlib-compressed
in `snapshot_body`, under the sha256 of those bytes (the body hash): snapshots of an unchanged
portfolio differ only in their first line, so their tables are stored once. A reader inflates
the tables a block at a time. New tables keep their projects CSV export beside them
(`snapshot_export`, written once by `portfolio.services.exports.kept`).

One concept per module: `schema` (the tables and constants), `writer` (the canonical
serialisation), `content` (reading it back), `service` (the use cases) and `diff` (comparing two).
"""

from portfolio.services.snapshots.content import SnapshotContent, TableData, parse_lines
from portfolio.services.snapshots.diff import diff_contents, diff_snapshots, organisation_names
from portfolio.services.snapshots.schema import (
    SOURCE_TITLE,
    TABLE_BY_NAME,
    TABLE_NAMES,
    TABLES,
    Column,
)
from portfolio.services.snapshots.service import (
    QuotaExceeded,
    build_content,
    content_to_download,
    create_snapshot,
    get_snapshot,
    list_snapshots,
    load_content,
    verify_snapshot,
)
from portfolio.services.snapshots.writer import canonical_line, iso_time

__all__ = [
    "SOURCE_TITLE",
    "TABLES",
    "TABLE_BY_NAME",
    "TABLE_NAMES",
    "Column",
    "QuotaExceeded",
    "SnapshotContent",
    "TableData",
    "build_content",
    "canonical_line",
    "content_to_download",
    "create_snapshot",
    "diff_contents",
    "diff_snapshots",
    "get_snapshot",
    "iso_time",
    "list_snapshots",
    "load_content",
    "organisation_names",
    "parse_lines",
    "verify_snapshot",
]
