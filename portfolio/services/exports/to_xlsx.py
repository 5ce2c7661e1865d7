"""XLSX: an About sheet, then one sheet per table, continued past Excel's row limit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from functools import lru_cache
from itertools import islice
from typing import Any, BinaryIO, NamedTuple

from portfolio.services.exports.common import (
    LICENCE,
    XLSX_BATCH_ROWS,
    XLSX_MAX_ROWS,
    FixedTimeZip,
    deflating,
)
from portfolio.services.snapshots import (
    SOURCE_TITLE,
    Column,
    SnapshotContent,
)
from portfolio.text import neutralise
from scoring import collector


class _Sheet(NamedTuple):
    """A worksheet to write: its table, the number of its first and last data rows."""

    table: str
    columns: list[str]
    first: int
    stop: int


def _sheets(content: SnapshotContent) -> list[_Sheet]:
    """Return the worksheets of every table, continued past Excel's row limit."""
    sheets = []
    for data in content.tables():
        count = sum(lines.count(b"\n") + 1 for lines in data.lines or ())
        starts = range(0, count, XLSX_MAX_ROWS - 1) if count else [0]
        sheets += [_Sheet(data.spec.name, data.columns, first,
                          min(first + XLSX_MAX_ROWS - 1, count)) for first in starts]
    return sheets


def write_xlsx(content: SnapshotContent, out: BinaryIO) -> None:
    """Write an About sheet and one sheet per table: openpyxl writes the workbook, we the rows."""
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
    # openpyxl writes each sheet's frame (header row, frozen pane, margins); the rows are
    # written straight into its sheetData, as openpyxl would write them, at a fraction of the cost.
    rows_of: dict[str, tuple[Any, _Sheet]] = {}
    for plan in _sheets(content):
        part = plan.first // (XLSX_MAX_ROWS - 1) + 1
        sheet = workbook.create_sheet(plan.table if part == 1 else f"{plan.table} ({part})")
        if plan.stop > plan.first:
            sheet.freeze_panes = "A2"
        header(sheet, plan.columns)
        rows_of[sheet._writer.out] = (sheet, plan)
    tables = content.tables()
    current: list[Any] = [None]

    def sheet_rows(filename: str) -> Iterator[bytes] | None:
        if filename not in rows_of:
            return None
        sheet, plan = rows_of[filename]
        if plan.first == 0:
            current[0] = next(tables)
        cells = SheetCells(current[0].column_specs(),
                           lambda sample: WriteOnlyCell(sheet, value=sample).style_id)
        return cells.chunks(islice(current[0].rows, plan.stop - plan.first))

    # openpyxl's save() stamps "modified" with the clock and zips with file times; its writer,
    # given our zip, keeps the snapshot's time everywhere.
    with collector.paused(), _SheetZip(out, content.created_at, sheet_rows) as archive:
        ExcelWriter(workbook, archive).write_data()


class _SheetZip(FixedTimeZip):
    """The workbook's zip, writing each table's rows into its worksheet as it is copied in."""

    def __init__(self, file: Any, moment: datetime,
                 sheet_rows: Callable[[str], Iterator[bytes] | None]) -> None:
        super().__init__(file, moment)
        self.sheet_rows = sheet_rows

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        """Copy a worksheet in, with its table's rows after its header row."""
        rows = self.sheet_rows(str(filename))
        if rows is None:
            super().write(filename, arcname)
            return
        with open(filename, "rb") as source:
            frame = source.read()
        at = frame.index(b"</sheetData>")
        with deflating(self, self.member(str(arcname))) as write:
            write(frame[:at])
            for chunk in rows:
                write(chunk)
            write(frame[at:])


# A cell as openpyxl writes it: numbers as "%.16g", dates as Excel serials in a dated style,
# text inline, escaped as lxml escapes it (&, <, >, CR; anything past ASCII as &#n;).
_TEXT, _LIST, _NUMBER, _FLAG, _DATE, _TIME = range(6)
_KINDS = {"string": _TEXT, "list": _LIST, "integer": _NUMBER, "number": _NUMBER,
          "boolean": _FLAG, "date": _DATE, "datetime": _TIME}
_TEXT_LIMIT = 32767  # openpyxl cuts longer text


def _escape(text: str) -> str:
    """Escape text for an XML text node as lxml does (before the ASCII encoding)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


class SheetCells:
    """Write a table's rows as worksheet XML, the same bytes as openpyxl's write-only sheets."""

    def __init__(self, columns: list[Column], style_of: Callable[[Any], int]) -> None:
        from openpyxl.utils import get_column_letter

        self.kinds = [_KINDS.get(c.type, _TEXT) for c in columns]
        self.letters = [get_column_letter(i) for i in range(1, len(columns) + 1)]
        self.style_of = style_of
        self.styles: dict[int, str] = {}
        self.dated = [(i, kind) for i, kind in enumerate(self.kinds) if kind in (_DATE, _TIME)]

    def _register(self, batch: list[list[Any]]) -> None:
        """Register the dated styles a batch first uses, in the order openpyxl would meet them."""
        for row in batch:
            for i, kind in self.dated:
                if row[i] and kind not in self.styles:
                    sample = date(2000, 1, 1) if kind == _DATE else datetime(2000, 1, 1)
                    self.styles[kind] = str(self.style_of(sample))

    def chunks(self, rows: Iterator[list[Any]], first: int = 2) -> Iterator[bytes]:
        """Yield the rows' XML, numbered from `first`, a batch of rows at a time."""
        while batch := list(islice(rows, XLSX_BATCH_ROWS)):
            numbers = [str(n) for n in range(first, first + len(batch))]
            first += len(batch)
            if any(kind not in self.styles for _, kind in self.dated):
                self._register(batch)
            # Column by column: one comprehension per column is far quicker than a call per cell.
            columns = [self._column(letter, kind, numbers, values) for letter, kind, values
                       in zip(self.letters, self.kinds, zip(*batch, strict=True), strict=True)]
            xml = "".join([f'<row r="{n}">{"".join(cells)}</row>'
                           for n, cells in zip(numbers, zip(*columns, strict=True), strict=True)])
            yield xml.encode("ascii", "xmlcharrefreplace")

    def _column(self, letter: str, kind: int, numbers: list[str], values: tuple[Any, ...]
                ) -> list[str]:
        """Return one column's cells (empty text where the value is null)."""
        cell = f'<c r="{letter}'
        if kind == _NUMBER:
            return [f'{cell}{n}" t="n"><v>{v:.16g}</v></c>' if v is not None else ""
                    for n, v in zip(numbers, values, strict=True)]
        if kind == _FLAG:
            return [f'{cell}{n}" t="b"><v>{"1" if v else "0"}</v></c>' if v is not None else ""
                    for n, v in zip(numbers, values, strict=True)]
        if kind == _TEXT:
            return [_text(cell, n, neutralise(v)) if v is not None else ""
                    for n, v in zip(numbers, values, strict=True)]
        if kind == _LIST:
            return [_text(cell, n, neutralise(";".join(v))) if v is not None else ""
                    for n, v in zip(numbers, values, strict=True)]
        dated = f'" s="{self.styles.get(kind)}" t="n"><v>'
        return [(f"{cell}{n}{dated}{_serial(v, kind == _TIME)}</v></c>" if v
                 else _text(cell, n, v) if v is not None else "")
                for n, v in zip(numbers, values, strict=True)]


def _text(cell: str, number: str, text: str) -> str:
    """Return an inline text cell."""
    if not text:
        return f'{cell}{number}" t="inlineStr"></c>'
    text = text[:_TEXT_LIMIT]
    space = ' xml:space="preserve"' if text.strip() is not text else ""
    return f'{cell}{number}" t="inlineStr"><is><t{space}>{_escape(text)}</t></is></c>'


@lru_cache(maxsize=1 << 16)
def _serial(text: str, with_time: bool) -> str:
    """Return a snapshot's ISO date or UTC time as Excel's serial number, as openpyxl writes it."""
    from openpyxl.utils.datetime import to_excel

    # Excel has no time zones: the time is UTC, as the column's name says.
    moment = (datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") if with_time
              else date.fromisoformat(text))
    return format(to_excel(moment), ".16g")


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
