"""Reading an import file: sniffing its kind, CSV or XLSX within limits, and its header."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.documents import BY_MEDIA_TYPE, check_archive
from portfolio.errors import Invalid
from portfolio.services.imports.columns import (
    COLUMNS,
    KNOWN_SIGNATURES,
    MAX_IMPORT_BYTES,
    REQUIRED,
    BadFile,
    FileTooLarge,
    ImportLimits,
    OverLimit,
    SpreadsheetError,
)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Sheet:
    """A file's header and its numbered rows (row 1 is the header)."""

    kind: str
    header: list[str]
    rows: list[tuple[int, list[Any]]]


def sniff(content: bytes) -> str:
    """Return "csv" or "xlsx" from the file's bytes, or raise BadFile naming what it is."""
    if len(content) > MAX_IMPORT_BYTES:
        raise FileTooLarge(too_large_message(len(content)))
    if not content.strip():
        raise BadFile("the file is empty")
    if content.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
        except zipfile.BadZipFile:
            raise BadFile("the file is a damaged zip archive, not a CSV or XLSX file") from None
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "content.xml" in names:
            raise BadFile("the file is an OpenDocument spreadsheet (.ods); save it as .xlsx or "
                          "as CSV UTF-8")
        if "word/document.xml" in names:
            raise BadFile("the file is a Word document, not a CSV or XLSX file")
        raise BadFile("the file is a zip archive, not a CSV or XLSX file")
    for signature, what in KNOWN_SIGNATURES:
        if content.startswith(signature):
            raise BadFile(f"the file is {what}, not a CSV or XLSX file")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise BadFile("the file is UTF-16 text; it must be UTF-8 (in Excel: Save As, "
                      "'CSV UTF-8 (Comma delimited)')")
    if b"\x00" in content[:65536]:
        raise BadFile("the file is binary, not a CSV or XLSX file")
    return "csv"


def too_large_message(size: int) -> str:
    """Return the message for a file over the size limit."""
    return (f"the file is {size / 1_048_576:.1f} MB; the limit is "
            f"{MAX_IMPORT_BYTES // 1_048_576} MB (split it into several files)")


def require_importer(actor: Actor) -> None:
    """Refuse actors who may not import (researchers)."""
    require(actor, Capability.IMPORT_PROJECTS)


def read_sheet(content: bytes, limits: ImportLimits | None = None) -> Sheet:
    """Sniff, decode and parse a file into its header and rows, or raise BadFile."""
    limits = limits or ImportLimits()
    kind = sniff(content)
    sheet = _read_xlsx(content, limits) if kind == "xlsx" else _read_csv(content, limits)
    while sheet.rows and all(is_blank(v) for v in sheet.rows[-1][1]):
        sheet.rows.pop()
    if all(is_blank(v) for v in sheet.header):
        raise BadFile("the first row is empty: it must be the header with the column names "
                      f"({', '.join(REQUIRED)}, ...)")
    check_header(sheet.header)
    if not sheet.rows:
        raise BadFile("the file has a header but no project rows")
    return sheet


def too_many_columns(limits: ImportLimits, where: str) -> OverLimit:
    """Return the refusal of a file wider than the column limit."""
    return OverLimit(f"{where} has more than {limits.columns:,} columns, the most an import "
                     f"may have (the import knows {len(COLUMNS)} columns)")


def too_many_rows(limits: ImportLimits) -> OverLimit:
    """Return the refusal of a file longer than the row limit."""
    return OverLimit(f"the file has more than {limits.rows:,} project rows, the most one import "
                     f"may have (split it into several files)")


# A cell may be as long as the file: its column's own limit then speaks for its row, with the
# other rows' problems, where the csv module's 131,072 refused the whole file in its words.
csv.field_size_limit(max(csv.field_size_limit(), MAX_IMPORT_BYTES))


def _read_csv(content: bytes, limits: ImportLimits) -> Sheet:
    bom = content.startswith(b"\xef\xbb\xbf")
    body = content[3:] if bom else content
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if bom else 0)
        line = content[:offset].count(b"\n") + 1
        raise BadFile(
            f"the file must be UTF-8 encoded: byte 0x{content[offset]:02x} at offset {offset} "
            f"(line {line}) is not UTF-8 (in Excel: Save As, 'CSV UTF-8 (Comma delimited)')"
        ) from None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        raise BadFile("the file looks like JSON, not CSV")
    if stripped.startswith("<"):
        raise BadFile("the file looks like HTML or XML, not CSV")
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        # Excel in many European locales saves "CSV" with semicolons; some tools use tabs.
        delimiter = ";" if ";" in first_line else "\t" if "\t" in first_line else ","
    # Strict: a quote left open is refused, not allowed to read the rest of the file as a cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[Any]]] = []
    read_to = 0  # the last line of the last record read whole
    try:
        header = next(reader, [])
        read_to = reader.line_num
        # Refused before any row is read: a wide header costs every row that follows.
        if len(header) > limits.columns:
            raise too_many_columns(limits, "the header")
        data_rows = 0
        for number, cells in enumerate(reader, start=2):
            if len(cells) > limits.columns:
                raise too_many_columns(limits, f"row {number}")
            if any(cells):
                data_rows += 1
                if data_rows > limits.rows:
                    raise too_many_rows(limits)
            rows.append((number, cells))
            read_to = reader.line_num
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            line = read_to + 1  # the record the open quote is in starts after the last read
            raise BadFile(f"the CSV cannot be read near line {line}: a quote (\") opened there "
                          "is never closed, so every line after it would be one cell; close "
                          "it or take it out") from None
        if "expected after" in str(exc):
            raise BadFile(f"the CSV cannot be read near line {reader.line_num}: a quoted cell "
                          "goes on after its closing quote; a quote inside a quoted cell is "
                          "written twice (\"\")") from None
        raise BadFile(f"the CSV cannot be read near line {reader.line_num}: {exc}") from None
    return Sheet("csv", header, rows)


def _read_xlsx(content: bytes, limits: ImportLimits) -> Sheet:
    """Read the projects sheet cell by cell, trusting nothing the file declares about its size.

    openpyxl's read-only rows are padded to the sheet's declared <dimension> and gaps filled up
    to its declared last row, so a 1.5 KB file can ask for gigabytes. Only cells present in
    the XML are read here, and reading stops at the first cell or row past the limits.
    """
    from openpyxl import load_workbook

    try:
        # openpyxl reads a workbook's shared strings whole: refused first, as an attached
        # document is, when it would unpack far beyond its size (a zip bomb).
        check_archive(content, BY_MEDIA_TYPE[XLSX_MEDIA_TYPE], max_bytes=MAX_IMPORT_BYTES)
    except Invalid as exc:
        raise BadFile(exc.errors["file"]) from None
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged file
        raise BadFile(f"the workbook cannot be read: {exc}") from None
    try:
        names = workbook.sheetnames
        # The template's sheet is "projects"; a spreadsheet user may well call it "Projects".
        named = [name for name in names if name.strip().lower() == "projects"]
        sheet = workbook[named[0]] if named else workbook.worksheets[0]
        cells = _present_rows(workbook, sheet, limits)
        header: list[str] = []
        rows: list[tuple[int, list[Any]]] = []
        data_rows = 0
        for number, values in cells:
            if number == 1:
                header = [("" if v is None else str(v)) for v in values]
                continue
            data_rows += 1
            if data_rows > limits.rows:
                raise too_many_rows(limits)
            rows.append((number, values))
    except OverLimit:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged sheet part
        raise BadFile(f"the workbook cannot be read: {exc}") from None
    finally:
        workbook.close()
    return Sheet("xlsx", header, rows)


def _present_rows(workbook: Any, sheet: Any,
                  limits: ImportLimits) -> Iterable[tuple[int, list[Any]]]:
    """Yield (row number, values) for each row holding a value, from the cells present only."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet._reader import CELL_TAG, ROW_TAG, WorkSheetParser
    from openpyxl.xml.functions import iterparse

    with sheet._get_source() as source:
        parser = WorkSheetParser(source, sheet._shared_strings, data_only=True,
                                 epoch=workbook.epoch, date_formats=workbook._date_formats,
                                 timedelta_formats=workbook._timedelta_formats)
        values: dict[int, Any] = {}
        for event, element in iterparse(source, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == ROW_TAG:
                    number = element.get("r")
                    parser.row_counter = (int(float(number)) if number
                                          else parser.row_counter + 1)
                    parser.col_counter = 0
                    values = {}
                continue
            if tag == CELL_TAG:
                cell = parser.parse_cell(element)
                element.clear()
                if cell["value"] is None or cell["value"] == "":
                    continue
                if cell["column"] > limits.columns:
                    raise too_many_columns(limits, "the sheet (a value in column "
                                           f"{get_column_letter(cell['column'])})")
                # An error value (#NAME?, ...) is no text: the row's check says so.
                values[cell["column"]] = (SpreadsheetError(str(cell["value"]))
                                          if cell["data_type"] == "e" else cell["value"])
            elif tag == ROW_TAG:
                element.clear()
                if values:
                    row = [None] * max(values)
                    for column, value in values.items():
                        row[column - 1] = value
                    yield parser.row_counter, row


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _column_name(text: Any) -> str:
    return "_".join(str(text or "").strip().lower().split())


def check_header(header: list[Any]) -> list[str]:
    """Return the header's column names, or raise BadFile naming what is missing or unknown."""
    names = [_column_name(h) for h in header]
    while names and not names[-1]:
        names.pop()
    if not any(n in COLUMNS for n in names):
        shown = ", ".join(repr(str(h)) for h in header[:6] if not is_blank(h))
        raise BadFile(f"the first row must be the header with the column names "
                      f"({', '.join(COLUMNS)}); it holds {shown or 'nothing'}")
    problems = []
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        problems.append(f"missing required column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)}")
    unknown = [n or f"(blank, column {i + 1})" for i, n in enumerate(names)
               if n not in COLUMNS]
    if unknown:
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(unknown[:10])}{more}")
    # One pass: names.count() per name made a 100,000-column header take minutes.
    seen: set[str] = set()
    repeated_names: set[str] = set()
    for name in names:
        if name in seen:
            repeated_names.add(name)
        seen.add(name)
    repeated = sorted(n for n in repeated_names if n)
    if repeated:
        problems.append(f"repeated column{'s' if len(repeated) > 1 else ''} "
                        f"{', '.join(repeated)}")
    if problems:
        raise BadFile("wrong header: " + "; ".join(problems) +
                      f" (the columns are: {', '.join(COLUMNS)})")
    return names
