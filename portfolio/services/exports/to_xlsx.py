"""XLSX: an About sheet, then one sheet per table, continued past Excel's row limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, BinaryIO

from portfolio.services.exports.common import LICENCE, XLSX_MAX_ROWS, FixedTimeZip
from portfolio.services.snapshots import (
    SOURCE_TITLE,
    Column,
    SnapshotContent,
)
from portfolio.text import neutralise


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
