"""The import's columns, limits and refusals, and the report it gives."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portfolio.enums import (
    DpiaStatus,
    ProjectStatus,
    Theme,
)
from portfolio.errors import Invalid

MAX_IMPORT_BYTES = 50 * 1024 * 1024
TEMPLATE_PATH = Path(__file__).resolve().parents[3] / "seeds" / "import_template.csv"
# The template's columns, in its order; the first four are required.
COLUMNS = (
    "slug", "title", "owner", "theme", "status", "cost_gbp", "effort_pm", "start_date",
    "end_date", "personal_data", "dpia_status", "mandatory", "mandatory_justification",
    "reach_people", "confidence_pct", "time_criticality", "datasets", "depends_on",
    "description", "status_reason", "version",
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
    "version": "The project's version the row was read at (optional): a row that would change "
               "a project changed since is refused, so a file made earlier cannot undo later "
               "edits.",
}
LIST_COLUMNS = ("datasets", "depends_on")
# Columns that are about the import of a row, not fields of the project.
NOT_FIELDS = (*LIST_COLUMNS, "status_reason", "version")
LIST_SPLIT = re.compile(r"[;,]")
MONEY_NOISE = re.compile(r"[£,\s]")
WHOLE_FLOAT = re.compile(r"^(\d+)\.0{1,2}$")
# Dots between groups of three digits, or a comma before the last one or two: a thousands dot
# or a decimal comma, as spreadsheets write money in much of Europe.
AMBIGUOUS_MONEY = re.compile(r"^£?(\d{1,3}(\.\d{3})+(,\d+)?|\d+,\d{1,2})$")
# Spaces a spreadsheet may put between thousands (a no-break or narrow one too).
MONEY_SPACES = re.compile(r"[\s\u00a0\u202f]")
# Columns of text: a number a spreadsheet made of typed digits is read as the digits shown.
TEXT_COLUMNS = frozenset(("slug", "title", "owner", "theme", "status", "dpia_status",
                          "mandatory_justification", "datasets", "depends_on",
                          "status_reason", "description"))
# Columns a date cell belongs in, and columns of numbers (the rest hold text or yes/no).
DATE_COLUMNS = frozenset(("start_date", "end_date"))
NUMBER_COLUMNS = frozenset(("cost_gbp", "effort_pm", "reach_people", "confidence_pct",
                            "time_criticality", "version"))


@dataclass(frozen=True)
class SpreadsheetError:
    """A cell holding a spreadsheet's error value (#NAME?, #REF!, ...), not a value."""

    code: str

    def __str__(self) -> str:
        return self.code
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
