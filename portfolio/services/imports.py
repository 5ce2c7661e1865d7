"""Import projects from a CSV or XLSX file: check every row first, then write all or nothing.

The file's columns are documented in docs/IMPORT.md (the template is seeds/import_template.csv).
A row whose slug exists updates that project; a cell left blank keeps the project's current
value (a new project gets the default). `datasets` and `depends_on` add links and dependencies;
an import never removes any.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, only_own_organisation, require
from portfolio.enums import (
    Agreement,
    DpiaStatus,
    FitForTask,
    LinkRelation,
    ProjectStatus,
    Theme,
)
from portfolio.errors import Invalid, NotAllowed
from portfolio.models import (
    AuditEvent,
    Dataset,
    Organisation,
    Project,
    ProjectDataset,
    ProjectDependency,
    table_of,
    utcnow,
)
from portfolio.schemas import ProjectCreate, field_errors
from portfolio.services.common import chunks
from portfolio.services.projects import PROJECT_FIELDS
from portfolio.services.workflow import check_transition
from scoring.graph import find_cycles

MAX_IMPORT_BYTES = 50 * 1024 * 1024
TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "seeds" / "import_template.csv"
# The template's columns, in its order; the first four are required.
COLUMNS = (
    "slug", "title", "owner", "theme", "status", "cost_gbp", "effort_pm", "start_date",
    "end_date", "personal_data", "dpia_status", "mandatory", "mandatory_justification",
    "reach_people", "confidence_pct", "time_criticality", "datasets", "depends_on",
    "description", "status_reason",
)
REQUIRED = ("slug", "title", "owner", "theme")
COLUMN_HELP = {
    "slug": "Short name: lowercase letters, digits and hyphens. An existing slug updates that "
            "project.",
    "title": "Up to 300 characters.",
    "owner": "Code of the owner organisation (a borough's ONS code such as E09000007, or GLA, "
             "TFL, ...).",
    "theme": "One of: " + ", ".join(t.value for t in Theme) + ".",
    "status": "One of: " + ", ".join(s.value for s in ProjectStatus) + " (default idea). The "
              "status workflow applies: a lead registers idea or proposed projects and moves "
              "them along the workflow; only a review decision approves or rejects.",
    "cost_gbp": "Whole pounds; '£' and thousands separators are allowed (default 0).",
    "effort_pm": "Person-months, a number (default 0).",
    "start_date": "YYYY-MM-DD (or a date cell in XLSX).",
    "end_date": "YYYY-MM-DD, not before the start date.",
    "personal_data": "true or false (also yes/no, 1/0).",
    "dpia_status": "One of: " + ", ".join(d.value for d in DpiaStatus) + ".",
    "mandatory": "true or false; a mandatory project needs its justification.",
    "mandatory_justification": "The statute or duty that makes the project mandatory.",
    "reach_people": "Residents or service users reached, a whole number.",
    "confidence_pct": "Confidence in the estimates, 0 to 100.",
    "time_criticality": "1 to 5.",
    "datasets": "Codes of datasets the project uses, separated by ';'. Adds links; never "
                "removes one.",
    "depends_on": "Slugs of projects (in this file or already registered) it waits for, "
                  "separated by ';'.",
    "description": "Free text.",
    "status_reason": "Why the status changes, when the CDO or an admin moves a project outside "
                     "the usual workflow.",
}
LIST_COLUMNS = ("datasets", "depends_on")
# Columns that are about the import of a row, not fields of the project.
NOT_FIELDS = (*LIST_COLUMNS, "status_reason")
LIST_SPLIT = re.compile(r"[;,]")
MONEY_NOISE = re.compile(r"[£,\s]")
WHOLE_FLOAT = re.compile(r"^(\d+)\.0*$")
PROGRESS_EVERY = 500
WRITE_BATCH = 1000
KNOWN_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls); save it as .xlsx or as CSV UTF-8"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"{\\rtf", "an RTF document"),
)

Progress = Callable[[str, int, int], None]


class BadFile(Invalid):
    """A file that cannot be imported at all (kind, size, encoding, header); nothing is written."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": message})


class FileTooLarge(BadFile):
    """A file over MAX_IMPORT_BYTES, refused before it is parsed."""

    status_code = 413


@dataclass(frozen=True)
class ImportLimits:
    """How many data rows and columns a file may hold (settings import_max_rows, _columns)."""

    rows: int = 100_000
    columns: int = 200

    @classmethod
    def of(cls, settings: Any) -> ImportLimits:
        """Return the limits a set of settings names."""
        return cls(rows=settings.import_max_rows, columns=settings.import_max_columns)


class OverLimit(BadFile):
    """A file with more rows or columns than the limits allow; refused as soon as it is seen."""


@dataclass(frozen=True)
class RowError:
    """One problem: the row as numbered in a spreadsheet (header = 1), the column, the reason."""

    row: int
    column: str
    reason: str


@dataclass
class ImportReport:
    """What an import checked, and what it wrote (or, in a dry run, would write)."""

    filename: str
    kind: str
    rows: int
    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    links_added: int = 0
    dependencies_added: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every row passed."""
        return not self.errors

    @property
    def written(self) -> bool:
        """Tell whether anything was written."""
        return self.ok and not self.dry_run and bool(
            self.created or self.updated or self.links_added or self.dependencies_added)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "file": self.filename, "format": self.kind, "rows": self.rows,
            "dry_run": self.dry_run, "ok": self.ok, "written": self.written,
            "created": self.created, "updated": self.updated,
            "unchanged": len(self.unchanged), "links_added": self.links_added,
            "dependencies_added": self.dependencies_added,
            "errors": [{"row": e.row, "column": e.column, "reason": e.reason}
                       for e in self.errors],
        }


# ---------------------------------------------------------------------------------------------
# Reading the file


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
    while sheet.rows and all(_blank(v) for v in sheet.rows[-1][1]):
        sheet.rows.pop()
    if all(_blank(v) for v in sheet.header):
        raise BadFile("the first row is empty: it must be the header with the column names "
                      f"({', '.join(REQUIRED)}, ...)")
    check_header(sheet.header)
    if not sheet.rows:
        raise BadFile("the file has a header but no project rows")
    return sheet


def too_many_columns(limits: ImportLimits, where: str) -> OverLimit:
    """Return the refusal of a file wider than the column limit."""
    return OverLimit(f"{where} has more than {limits.columns:,} columns, the most an import "
                     f"may have (the template has {len(COLUMNS)})")


def too_many_rows(limits: ImportLimits) -> OverLimit:
    """Return the refusal of a file longer than the row limit."""
    return OverLimit(f"the file has more than {limits.rows:,} project rows, the most one import "
                     f"may have (split it into several files)")


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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Any]]] = []
    try:
        header = next(reader, [])
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
    except csv.Error as exc:
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
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged file
        raise BadFile(f"the workbook cannot be read: {exc}") from None
    try:
        names = workbook.sheetnames
        sheet = workbook["projects"] if "projects" in names else workbook.worksheets[0]
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
                values[cell["column"]] = cell["value"]
            elif tag == ROW_TAG:
                element.clear()
                if values:
                    row = [None] * max(values)
                    for column, value in values.items():
                        row[column - 1] = value
                    yield parser.row_counter, row


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _column_name(text: Any) -> str:
    return "_".join(str(text or "").strip().lower().split())


def check_header(header: list[Any]) -> list[str]:
    """Return the header's column names, or raise BadFile naming what is missing or unknown."""
    names = [_column_name(h) for h in header]
    while names and not names[-1]:
        names.pop()
    if not any(n in COLUMNS for n in names):
        shown = ", ".join(repr(str(h)) for h in header[:6] if not _blank(h))
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


# ---------------------------------------------------------------------------------------------
# Checking the rows


@dataclass
class _Row:
    number: int
    slug: str
    values: Any = None  # the validated ProjectCreate
    owner_id: int | None = None
    reason: str = ""  # why the status changes, for a change outside the workflow
    datasets: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)


def _cell(value: Any, column: str) -> Any:
    """Return a cell as a service input value, or None for a blank cell."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, (date, bool, int, float)):
        if isinstance(value, float) and value.is_integer() and column != "effort_pm":
            return int(value)
        return value
    text = str(value).strip()
    if not text:
        return None
    # Our exports put an apostrophe before text a spreadsheet would run; take it off again.
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        text = text[1:]
    if column == "cost_gbp":
        text = MONEY_NOISE.sub("", text)
        whole = WHOLE_FLOAT.match(text)
        if whole:
            text = whole.group(1)
    return text


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    seen: dict[str, None] = {}
    for part in LIST_SPLIT.split(str(value)):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def _current_input(project: Any, owner_code: str) -> dict[str, Any]:
    """Return an existing project's values as the service input it would have come from."""
    values = {name: getattr(project, name) for name in PROJECT_FIELDS}
    values["owner"] = owner_code
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class _Known:
    """What the checks look rows up against: organisations, datasets and existing projects."""

    organisations: dict[str, int]  # code -> id
    codes_by_id: dict[int, str]
    # Messages name organisations; the code is there only when it names nothing.
    organisation_names: dict[str, str]
    datasets: dict[str, int]  # code -> id
    existing: dict[str, Any]  # slug -> project
    own_code: str | None  # the importer's organisation


def _known(session: Session, actor: Actor, sheet: Sheet, names: list[str], *,
           lock: bool) -> _Known:
    """Read what the rows refer to, locking the file's existing projects when writing."""
    organisations: dict[str, int] = dict(session.execute(
        select(col(Organisation.code), col(Organisation.id))).all())
    codes_by_id = {v: k for k, v in organisations.items()}
    slug_at = names.index("slug")
    file_slugs = [str(_cell(cells[slug_at], "slug") or "")
                  for _n, cells in sheet.rows if len(cells) > slug_at]
    return _Known(
        organisations=organisations, codes_by_id=codes_by_id,
        organisation_names=dict(session.execute(
            select(col(Organisation.code), col(Organisation.name))).all()),
        datasets=dict(session.execute(select(col(Dataset.code), col(Dataset.id))).all()),
        existing=_existing_projects(session, [s for s in file_slugs if s], lock=lock),
        own_code=codes_by_id.get(actor.organisation_id) if actor.organisation_id else None,
    )


def import_projects(
    *, session: Session, actor: Actor, content: bytes, filename: str = "upload",
    dry_run: bool = False, progress: Progress | None = None, sheet: Sheet | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Check every row of a file, then create or update its projects in one transaction.

    Rows are checked against the project rules (types, enumerations, dates), organisation and
    dataset codes, dependencies on slugs in the file or the portfolio, and cycles across the
    whole file and the existing dependencies. Any error writes nothing; the report lists them
    all with their row, column and reason. A lead may import only their organisation's projects.
    A caller that already read the file (to refuse a bad one early) passes its `sheet`.
    """
    require_importer(actor)
    sheet = sheet or read_sheet(content, limits)
    names = check_header(sheet.header)
    report = ImportReport(filename=filename, kind=sheet.kind, rows=0, dry_run=dry_run)
    tick = progress or (lambda _stage, _done, _total: None)
    total = len(sheet.rows)
    tick("check", 0, total)
    known = _known(session, actor, sheet, names, lock=not dry_run)

    rows: list[_Row] = []
    first_row: dict[str, int] = {}
    for done, (number, cells) in enumerate(sheet.rows, start=1):
        if done % PROGRESS_EVERY == 0:
            tick("check", done, total)
        if all(_blank(v) for v in cells):
            continue
        report.rows += 1
        row, mine = _checked_row(actor, known, names, number, list(cells), first_row)
        report.errors.extend(mine)
        rows.append(row)

    tick("check", total, total)
    referenced = {slug for row in rows for slug in row.depends_on} - set(first_row)
    slugs_known = set(first_row) | _slugs_in_portfolio(session, referenced)
    _check_dependencies(session, rows, slugs_known, report.errors)
    report.errors.sort(
        key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else 99))
    if report.errors:
        return report
    _sort_rows(report, rows, known.existing, session)
    if dry_run or not report.written:
        return report
    _write(session, actor, report, rows, known.existing, known.datasets, filename, tick)
    return report


def _checked_row(actor: Actor, known: _Known, names: list[str], number: int, cells: list[Any],
                 first_row: dict[str, int]) -> tuple[_Row, list[RowError]]:
    """Check one non-blank row on its own; return it and what is wrong with it."""
    mine: list[RowError] = []
    cells = cells + [None] * (len(names) - len(cells))
    if any(not _blank(v) for v in cells[len(names):]):
        mine.append(RowError(number, "(no column)", "this row has more cells than the "
                             "header has columns"))
    given = {name: _cell(cells[i], name) for i, name in enumerate(names)}
    slug = str(given.get("slug") or "")
    row = _Row(number=number, slug=slug)
    if slug and slug in first_row:
        mine.append(RowError(number, "slug", f"slug {slug!r} is already on row "
                                             f"{first_row[slug]}"))
    elif slug:
        first_row[slug] = number
    current = known.existing.get(slug)
    data = {k: v for k, v in given.items() if k not in NOT_FIELDS and v is not None}
    if current is not None:
        data = _current_input(current, known.codes_by_id[current.owner_id]) | data
    try:
        row.values = ProjectCreate.model_validate(data)
    except ValidationError as exc:
        mine.extend(RowError(number, column, reason)
                    for column, reason in field_errors(exc).items())
    mine.extend(_owner_errors(actor, known, row, current, data.get("owner"),
                              owner_checked=any(e.column == "owner" for e in mine)))
    if row.values is not None and not any(e.column == "owner" for e in mine):
        row.reason = str(given.get("status_reason") or "")
        problem = _status_problem(actor, current, row.owner_id, row.values.status.value,
                                  row.reason, row.values.dpia_status.value)
        if problem:
            mine.append(RowError(number, problem[0], problem[1]))
    row.datasets = _split(given.get("datasets"))
    unknown = [c for c in row.datasets if c not in known.datasets]
    if unknown:
        mine.append(RowError(number, "datasets", "unknown dataset code"
                             f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"))
    row.depends_on = _split(given.get("depends_on"))
    return row, mine


def _owner_errors(actor: Actor, known: _Known, row: _Row, current: Any, owner: Any, *,
                  owner_checked: bool) -> list[RowError]:
    """Resolve a row's owner code and refuse an unknown one or another organisation's."""
    out: list[RowError] = []
    if owner is not None and not owner_checked:
        row.owner_id = known.organisations.get(str(owner))
        if row.owner_id is None:
            out.append(RowError(row.number, "owner", f"unknown organisation code {owner!r}"))
    if only_own_organisation(actor, Capability.IMPORT_PROJECTS):
        theirs = [code for code in (
            known.codes_by_id.get(current.owner_id) if current is not None else None,
            str(owner) if owner is not None else None) if code and code != known.own_code]
        if theirs:
            own = known.organisation_names.get(known.own_code or "", "their own organisation")
            other = known.organisation_names.get(theirs[0], theirs[0])
            out.append(RowError(row.number, "owner", f"a {actor.role.value} may import only "
                                f"{own}'s projects, not {other}'s"))
    return out


def _status_problem(actor: Actor, current: Any, owner_id: int | None, status: str,
                    reason: str, dpia_status: str | None = None) -> tuple[str, str] | None:
    """Return the column and reason a row's status breaks the workflow, or None."""
    try:
        check_transition(actor, current if current is not None else owner_id,
                         current.status if current is not None else None, status, reason=reason,
                         dpia_status=dpia_status)
    except NotAllowed as exc:
        return "status", exc.message
    except Invalid as exc:
        column, message = next(iter(exc.errors.items()))
        return column, message
    return None


def _existing_projects(session: Session, slugs: list[str], *, lock: bool) -> dict[str, Any]:
    """Return the portfolio's projects with these slugs, locked for update when writing."""
    found: dict[str, Any] = {}
    for chunk in chunks(sorted(set(slugs))):
        query = select(Project).where(col(Project.slug).in_(chunk))
        if lock:
            # PostgreSQL: nobody edits them between our check and our write (SQLite's
            # BEGIN IMMEDIATE already holds the whole database).
            query = query.with_for_update()
        project: Project
        for project in session.execute(query).scalars():
            found[project.slug] = project
    return found


def _slugs_in_portfolio(session: Session, slugs: set[str]) -> set[str]:
    """Return which of these slugs name projects already in the portfolio."""
    found: set[str] = set()
    for chunk in chunks(sorted(slugs)):
        found.update(session.execute(select(col(Project.slug)).where(col(Project.slug).in_(chunk)))
                     .scalars())
    return found


def _check_dependencies(session: Session, rows: list[_Row], known: set[str],
                        errors: list[RowError]) -> None:
    """Check depends_on: known slugs, no self-dependency, no cycle with what exists."""
    new_edges: dict[tuple[str, str], int] = {}
    for row in rows:
        for prerequisite in row.depends_on:
            if prerequisite == row.slug:
                errors.append(RowError(row.number, "depends_on", "a project cannot depend on "
                                       f"itself ({row.slug} -> {row.slug})"))
            elif prerequisite not in known:
                errors.append(RowError(row.number, "depends_on", f"unknown project "
                                       f"{prerequisite!r} (not in this file nor the portfolio)"))
            elif row.slug:
                new_edges.setdefault((row.slug, prerequisite), row.number)
    if not new_edges:
        return
    before = table_of(Project).alias("prerequisite")
    current = session.execute(
        select(col(Project.slug), before.c.slug)
        .join(ProjectDependency, col(ProjectDependency.project_id) == col(Project.id))
        .join(before, before.c.id == col(ProjectDependency.depends_on_id))
    ).all()
    pairs = [*((a, b) for a, b in current), *new_edges]
    edges = pd.DataFrame({"project": [a for a, _ in pairs], "depends_on": [b for _, b in pairs]})
    for cycle in find_cycles(edges):
        path = " -> ".join(cycle)
        for pair in zip(cycle, cycle[1:], strict=False):
            number = new_edges.get(pair)
            if number is not None:
                errors.append(RowError(number, "depends_on", f"this would close a cycle: "
                                                             f"{path}"))


# ---------------------------------------------------------------------------------------------
# Writing


def _column_values(values: Any) -> dict[str, Any]:
    out = {name: getattr(values, name) for name in PROJECT_FIELDS}
    for name in ("theme", "status", "dpia_status"):
        out[name] = out[name].value
    return out


def _sort_rows(report: ImportReport, rows: list[_Row], existing: dict[str, Any],
          session: Session) -> None:
    """Sort the rows into created, updated and unchanged, and count the new links."""
    link_pairs = _existing_links(session, [p.id for p in existing.values()])
    dependency_pairs = _existing_dependencies(session, [p.id for p in existing.values()])
    for row in rows:
        current = existing.get(row.slug)
        new_links = [c for c in row.datasets
                     if current is None or (current.id, c) not in link_pairs]
        new_dependencies = [d for d in row.depends_on
                            if current is None or (current.id, d) not in dependency_pairs]
        row.datasets, row.depends_on = new_links, new_dependencies
        report.links_added += len(new_links)
        report.dependencies_added += len(new_dependencies)
        if current is None:
            report.created.append(row.slug)
        elif _changes(current, row) or new_links or new_dependencies:
            report.updated.append(row.slug)
        else:
            report.unchanged.append(row.slug)


def _changes(current: Any, row: _Row) -> dict[str, Any]:
    wanted = _column_values(row.values) | {"owner_id": row.owner_id}
    return {k: v for k, v in wanted.items() if getattr(current, k) != v}


def _existing_links(session: Session, project_ids: list[int]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for chunk in chunks(project_ids):
        found.update(session.execute(
            select(col(ProjectDataset.project_id), col(Dataset.code))
            .join(Dataset, col(Dataset.id) == col(ProjectDataset.dataset_id))
            .where(col(ProjectDataset.project_id).in_(chunk),
                   col(ProjectDataset.relation) == LinkRelation.USES.value)
        ).all())
    return found


def _existing_dependencies(session: Session, project_ids: list[int]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for chunk in chunks(project_ids):
        found.update(session.execute(
            select(col(ProjectDependency.project_id), col(Project.slug))
            .join(Project, col(Project.id) == col(ProjectDependency.depends_on_id))
            .where(col(ProjectDependency.project_id).in_(chunk))
        ).all())
    return found


def _record(project: dict[str, Any]) -> dict[str, Any]:
    """Return a project's audit shape (as the services' as_record gives it)."""
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in project.items()
            if k not in ("created_at", "updated_at")}


def _write(session: Session, actor: Actor, report: ImportReport, rows: list[_Row],
           existing: dict[str, Any], datasets: dict[str, int], filename: str,
           tick: Progress) -> None:
    """Write the planned changes with bulk statements and their audit events."""
    now = utcnow()
    total = len(rows)
    tick("write", 0, total)
    audit: list[dict[str, Any]] = []
    created = set(report.created)
    new_rows = [row for row in rows if row.slug in created]
    values = {r.slug: {"slug": r.slug, "owner_id": r.owner_id, **_column_values(r.values),
                       "priority_override": None, "override_justification": "",
                       "override_by_id": None, "override_at": None, "version": 1,
                       "created_at": now, "updated_at": now} for r in new_rows}
    # Plain executemany: RETURNING in a specified order makes SQLite insert a row at a time.
    written = 0
    for batch in _batches(list(values.values())):
        session.execute(insert(table_of(Project)), batch)
        # A running total: the bar read "1,000 of 20,000" for every batch before.
        written += len(batch)
        tick("write", written, total)
    ids = {slug: p.id for slug, p in existing.items()} | _ids_of(session, list(values))
    for slug, value in values.items():
        audit.append(_event(actor, now, "create", "project", ids[slug],
                            after=_record({"id": ids[slug], **value})))

    updates = [row for row in rows if row.slug in set(report.updated)]
    for batch in _batches(updates):
        for row in batch:
            current = existing[row.slug]
            changes = _changes(current, row)
            if not changes:
                continue
            before = {k: getattr(current, k) for k in changes} | {"version": current.version}
            after = changes | {"version": current.version + 1}
            # The rows are locked (or the database is) since they were read: no version race.
            session.execute(
                update(Project).where(Project.id == current.id)
                .values(**changes, version=current.version + 1, updated_at=now)
                .execution_options(synchronize_session=False))
            if "status" in changes:
                # A status change is its own event in the history, as on the edit page.
                audit.append(_event(actor, now, "transition", "project", current.id,
                                    before={"status": before.pop("status"),
                                            "version": current.version},
                                    after={"status": after.pop("status"),
                                           "version": current.version + 1,
                                           "reason": row.reason, "source": f"import {filename}"}))
            if set(after) - {"version"}:
                audit.append(_event(actor, now, "update", "project", current.id,
                                    before=_record(before), after=_record(after)))
        written += len(batch)
        tick("write", written, total)

    slugs = {v: k for k, v in ids.items()}
    codes = {v: k for k, v in datasets.items()}
    links = [(ids[row.slug], datasets[code]) for row in rows for code in row.datasets]
    for batch in _batches(links):
        session.execute(insert(table_of(ProjectDataset)), [
            {"project_id": project_id, "dataset_id": dataset_id,
             "relation": LinkRelation.USES.value, "required": True,
             "fit_for_task": FitForTask.UNKNOWN.value, "agreement": Agreement.NONE.value}
            for project_id, dataset_id in batch])
    if links:
        link_ids = _pair_ids(session, ProjectDataset, ProjectDataset.dataset_id,
                             {p for p, _ in links}, ProjectDataset.relation == "uses")
        audit.extend(_event(actor, now, "create", "dataset_link", link_ids[pair],
                            after={"project": slugs[pair[0]], "dataset": codes[pair[1]],
                                   "relation": LinkRelation.USES.value}, project_id=pair[0])
                     for pair in links)
    dependencies = [(ids[row.slug], ids[prerequisite])
                    for row in rows for prerequisite in row.depends_on]
    for batch in _batches(dependencies):
        session.execute(insert(table_of(ProjectDependency)), [
            {"project_id": project_id, "depends_on_id": depends_on_id, "note": ""}
            for project_id, depends_on_id in batch])
    if dependencies:
        dependency_ids = _pair_ids(session, ProjectDependency, ProjectDependency.depends_on_id,
                                   {p for p, _ in dependencies})
        audit.extend(_event(actor, now, "create", "dependency", dependency_ids[pair],
                            after={"project": slugs[pair[0]], "depends_on": slugs[pair[1]],
                                   "note": ""}, project_id=pair[0])
                     for pair in dependencies)
    audit.append(_event(actor, now, "import", "project", None, after={
        "file": filename, "rows": report.rows, "created": len(report.created),
        "updated": len(report.updated), "links_added": report.links_added,
        "dependencies_added": report.dependencies_added}))
    for batch in _batches(audit):
        session.execute(insert(table_of(AuditEvent)), batch)
    tick("write", total, total)


def _ids_of(session: Session, slugs: list[str]) -> dict[str, int]:
    """Return the ids of projects by slug."""
    found: dict[str, int] = {}
    for chunk in chunks(slugs):
        found.update(session.execute(select(col(Project.slug), col(Project.id))
                                     .where(col(Project.slug).in_(chunk))).all())
    return found


def _pair_ids(session: Session, model: Any, other: Any, project_ids: set[int],
              *where: Any) -> dict[tuple[int, int], int]:
    """Return the ids of a link table's rows by (project id, other id)."""
    found: dict[tuple[int, int], int] = {}
    for chunk in chunks(sorted(project_ids)):
        rows = cast(list[tuple[int, int, int]], session.execute(
            select(model.id, model.project_id, other).where(model.project_id.in_(chunk), *where)
        ).all())
        for row_id, project_id, other_id in rows:
            found[(project_id, other_id)] = row_id
    return found


def _event(actor: Actor, at: datetime, action: str, entity: str, entity_id: int | None, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
           project_id: int | None = None) -> dict[str, Any]:
    """Return an audit row as record() would write it, the project it concerns included."""
    if project_id is None and entity == "project":
        project_id = entity_id
    return {"at": at, "actor_id": actor.id, "action": action, "entity": entity,
            "entity_id": entity_id, "before": before, "after": after, "project_id": project_id}


def _batches(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), WRITE_BATCH):
        yield items[start:start + WRITE_BATCH]


def template_bytes() -> bytes:
    """Return the CSV template that docs/IMPORT.md documents."""
    return TEMPLATE_PATH.read_bytes()


def template_xlsx() -> bytes:
    """Return the template as a workbook with one sheet named projects."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "projects"
    reader = csv.reader(io.StringIO(template_bytes().decode("utf-8")))
    for number, cells in enumerate(reader):
        if number == 0:
            sheet.append(cells)
            continue
        sheet.append([_template_value(c) for c in cells])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _template_value(text: str) -> Any:
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d+\.\d+", text):
        return float(text)
    return text
