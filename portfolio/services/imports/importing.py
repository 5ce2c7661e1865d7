"""The import use case: check every row, then write all or nothing."""

from __future__ import annotations

from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.services.common import one_at_a_time
from portfolio.services.imports.checking import (
    CheckedRow,
    check_dependencies,
    check_row,
    read_known,
    slugs_in_portfolio,
)
from portfolio.services.imports.columns import (
    COLUMNS,
    PROGRESS_EVERY,
    ImportLimits,
    ImportReport,
    Progress,
)
from portfolio.services.imports.reading import (
    Sheet,
    check_header,
    is_blank,
    read_sheet,
    require_importer,
)
from portfolio.services.imports.writing import sort_rows, write_rows


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
    known = read_known(session, actor, sheet, names, lock=not dry_run)

    rows: list[CheckedRow] = []
    first_row: dict[str, int] = {}
    for done, (number, cells) in enumerate(sheet.rows, start=1):
        if done % PROGRESS_EVERY == 0:
            tick("check", done, total)
        if all(is_blank(v) for v in cells):
            continue
        report.rows += 1
        row, mine = check_row(actor, known, names, number, list(cells), first_row)
        report.errors.extend(mine)
        rows.append(row)

    tick("check", total, total)
    if not dry_run and any(row.depends_on for row in rows):
        # As a dependency added alone: one closing a cycle with it meanwhile sees it first.
        one_at_a_time(session, "project dependencies")
    referenced = {slug for row in rows for slug in row.depends_on} - set(first_row)
    slugs_known = set(first_row) | slugs_in_portfolio(session, referenced)
    check_dependencies(session, rows, slugs_known, report.errors)
    report.errors.sort(
        key=lambda e: (e.row, COLUMNS.index(e.column) if e.column in COLUMNS else 99))
    if report.errors:
        return report
    sort_rows(report, rows, known.existing, session)
    if dry_run or not report.written:
        return report
    write_rows(session, actor, report, rows, known.existing, known.datasets, filename, tick)
    return report
