"""Checking an import's rows: each on its own, then the dependencies across the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, only_own_organisation
from portfolio.enums import DpiaStatus, ProjectStatus
from portfolio.errors import Invalid, NotAllowed
from portfolio.models import (
    Dataset,
    Organisation,
    Project,
    ProjectDependency,
    table_of,
)
from portfolio.schemas import ProjectCreate, every_problem
from portfolio.services.common import chunks, one_at_a_time
from portfolio.services.imports.columns import (
    AMBIGUOUS_MONEY,
    DATE_COLUMNS,
    LIST_SPLIT,
    MONEY_NOISE,
    MONEY_SPACES,
    NOT_FIELDS,
    NUMBER_COLUMNS,
    TEXT_COLUMNS,
    WHOLE_FLOAT,
    RowError,
    SpreadsheetError,
)
from portfolio.services.imports.reading import Sheet, is_blank
from portfolio.services.projects import NEW_PROJECT_SLUGS, PROJECT_FIELDS, field_values
from portfolio.services.workflow import check_transition
from portfolio.text import THOUSANDS, unneutralise
from scoring.graph import find_cycles


@dataclass
class CheckedRow:
    number: int
    slug: str
    values: Any = None  # the validated ProjectCreate
    owner_id: int | None = None
    reason: str = ""  # why the status changes, for a change outside the workflow
    datasets: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)


class CellProblem(Exception):
    """A cell that cannot be read as what its column holds, with what to do about it."""


def _cell(value: Any, column: str) -> Any:
    """Return a cell as a service input value, or None for a blank cell (CellProblem)."""
    if value is None:
        return None
    if isinstance(value, SpreadsheetError):
        raise CellProblem(f"this cell holds a spreadsheet error ({value.code}), not a value: "
                          "type it again (text starting with = + - or @ after an apostrophe, "
                          "so that the spreadsheet keeps it as text)")
    if isinstance(value, datetime) and column not in DATE_COLUMNS:
        # Excel makes a date of text such as "5-10": say what the cell holds, not pydantic.
        raise CellProblem(f"this cell holds a date ({value.date().isoformat()}) where "
                          f"{'a number' if column in NUMBER_COLUMNS else 'text'} belongs: "
                          "the spreadsheet may have made a date of what was typed; format the "
                          "cell as text and type it again")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, bool) and column in TEXT_COLUMNS:
        raise CellProblem(f"this cell holds {str(value).upper()} (a spreadsheet's TRUE or "
                          "FALSE) where text belongs: format the cell as text and type it again")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            column in TEXT_COLUMNS):
        # Excel makes typed digits a number: the text is what the cell shows.
        return f"{value:.15g}" if isinstance(value, float) else str(value)
    if isinstance(value, (date, bool, int, float)):
        if isinstance(value, float) and value.is_integer() and column != "effort_pm":
            return int(value)
        return value
    text = str(value).strip()
    if not text:
        return None
    # Our exports put an apostrophe before text a spreadsheet would run; take it off again.
    text = unneutralise(text)
    if column == "cost_gbp":
        compact = MONEY_SPACES.sub("", text)
        if AMBIGUOUS_MONEY.match(compact):
            raise _ambiguous(text)
        if "," in compact and not THOUSANDS.match(compact):
            raise CellProblem(f"{text!r} has a comma out of place: write whole pounds, as "
                              "250000 or 250,000")
        text = MONEY_NOISE.sub("", text)
        whole = WHOLE_FLOAT.match(text)
        if whole:
            text = whole.group(1)
    return text


def _slug_cell(value: Any) -> str:
    """Return a row's slug as text, blank when its cell cannot be read (its row says why)."""
    try:
        return str(_cell(value, "slug") or "")
    except CellProblem:
        return ""


def _ambiguous(text: str) -> CellProblem:
    """Return the refusal of an amount read otherwise where a comma or a dot marks decimals."""
    return CellProblem(f"{text!r} is ambiguous: where this file comes from it may mean pounds "
                      "and pence or thousands; write whole pounds, as 250000 or 250,000")


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    seen: dict[str, None] = {}
    for part in LIST_SPLIT.split(str(value)):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def row_changes(current: Any, row: CheckedRow) -> dict[str, Any]:
    """Return the columns a checked row would change on its existing project."""
    wanted = field_values(row.values) | {"owner_id": row.owner_id}
    return {k: v for k, v in wanted.items() if not _same(getattr(current, k), v)}


def _same(stored: Any, given: Any) -> bool:
    """Tell whether a cell gives what is stored; a fraction as far as a spreadsheet holds it."""
    if isinstance(stored, float) and isinstance(given, float):
        # A spreadsheet keeps 15 significant digits: 0.30000000000000004 comes back as 0.3.
        return f"{stored:.15g}" == f"{given:.15g}"
    return bool(stored == given)


def _version_problem(current: Any, version: Any, row: CheckedRow) -> str | None:
    """Say why a row read at a version may not be written, or None when it may."""
    if version is None:
        return None
    try:
        read = int(str(version).strip())
    except ValueError:
        return "give the project's version as a whole number, as it was read"
    if current is None:
        return "no project has this slug yet: leave the version blank to register it"
    if not 1 <= read <= current.version:
        return (f"the project is at version {current.version} and has never been at version "
                f"{read}: give the version it was read at, or leave it blank")
    if read == current.version or row.values is None or row.owner_id is None:
        return None  # the row's other problems are said on their own
    if not row_changes(current, row):
        return None  # unchanged whatever its version: importing a file twice stays safe
    return (f"the project was changed since version {read} (it is at version "
            f"{current.version}): read it again, or leave the version blank to write this row "
            "over what it holds now")


def _current_input(project: Any, owner_code: str) -> dict[str, Any]:
    """Return an existing project's values as the service input it would have come from."""
    values = {name: getattr(project, name) for name in PROJECT_FIELDS}
    values["owner"] = owner_code
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class Known:
    """What the checks look rows up against: organisations, datasets and existing projects."""

    organisations: dict[str, int]  # code -> id
    codes_by_id: dict[int, str]
    # Messages name organisations; the code is there only when it names nothing.
    organisation_names: dict[str, str]
    datasets: dict[str, int]  # code -> id
    existing: dict[str, Any]  # slug -> project
    own_code: str | None  # the importer's organisation


def read_known(session: Session, actor: Actor, sheet: Sheet, names: list[str], *,
           lock: bool) -> Known:
    """Read what the rows refer to, locking the file's existing projects when writing."""
    organisations: dict[str, int] = dict(session.execute(
        select(col(Organisation.code), col(Organisation.id))).all())
    codes_by_id = {v: k for k, v in organisations.items()}
    slug_at = names.index("slug")
    file_slugs = [_slug_cell(cells[slug_at]) for _n, cells in sheet.rows if len(cells) > slug_at]
    if lock:
        # Which projects are new is read here: one another import (or a registration) adds
        # meanwhile is not seen until it commits, and both would add it. This one waits for
        # it, then finds the project and updates it.
        one_at_a_time(session, NEW_PROJECT_SLUGS)
    return Known(
        organisations=organisations, codes_by_id=codes_by_id,
        organisation_names=dict(session.execute(
            select(col(Organisation.code), col(Organisation.name))).all()),
        datasets=dict(session.execute(select(col(Dataset.code), col(Dataset.id))).all()),
        existing=_existing_projects(session, [s for s in file_slugs if s], lock=lock),
        own_code=codes_by_id.get(actor.organisation_id) if actor.organisation_id else None,
    )


def check_row(actor: Actor, known: Known, names: list[str], number: int, cells: list[Any],
                 first_row: dict[str, int]) -> tuple[CheckedRow, list[RowError]]:
    """Check one non-blank row on its own; return it and what is wrong with it."""
    mine: list[RowError] = []
    cells = cells + [None] * (len(names) - len(cells))
    if any(not is_blank(v) for v in cells[len(names):]):
        mine.append(RowError(number, "(no column)", "this row has more cells than the "
                             "header has columns"))
    given: dict[str, Any] = {}
    unread: set[str] = set()
    for i, name in enumerate(names):
        try:
            given[name] = _cell(cells[i], name)
        except CellProblem as unreadable:
            mine.append(RowError(number, name, str(unreadable)))
            given[name], unread = None, unread | {name}
    slug = str(given.get("slug") or "")
    row = CheckedRow(number=number, slug=slug)
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
        # Every problem at once, as a form shows them: the rules across fields run too.
        found = every_problem(ProjectCreate, data, exc)
        # A cell already refused is not also "required".
        mine.extend(RowError(number, column, reason) for column, reason in found.items()
                    if column not in unread)
    mine.extend(_owner_errors(actor, known, row, current, data.get("owner"),
                              owner_checked=any(e.column == "owner" for e in mine)))
    status, dpia = _status_read(row.values, data, mine)
    if status is not None and not any(e.column == "owner" for e in mine):
        row.reason = str(given.get("status_reason") or "")
        problem = _status_problem(actor, current, row.owner_id, status, row.reason, dpia)
        if problem and not any(e.column == problem[0] for e in mine):
            mine.append(RowError(number, problem[0], problem[1]))
    if stale := _version_problem(current, given.get("version"), row):
        mine.append(RowError(number, "version", stale))
    row.datasets = _split(given.get("datasets"))
    unknown = [c for c in row.datasets if c not in known.datasets]
    if unknown:
        mine.append(RowError(number, "datasets", "unknown dataset code"
                             f"{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"))
    row.depends_on = _split(given.get("depends_on"))
    return row, mine


def _owner_errors(actor: Actor, known: Known, row: CheckedRow, current: Any, owner: Any, *,
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


def _status_read(values: Any, data: dict[str, Any],
                 errors: list[RowError]) -> tuple[str | None, str | None]:
    """Return a row's status and DPIA status to check the workflow with, valid or not.

    From the validated values when the row's fields are valid; else from its cells, when those
    two are themselves valid words (another field's problem does not hide the status's).
    """
    if values is not None:
        return values.status.value, values.dpia_status.value
    status = str(data.get("status", ProjectStatus.IDEA.value))
    dpia = str(data.get("dpia_status", DpiaStatus.NOT_NEEDED.value))
    if (any(e.column == "status" for e in errors) or status not in STATUS_WORDS
            or dpia not in DPIA_WORDS):
        return None, None
    return status, dpia


STATUS_WORDS = frozenset(s.value for s in ProjectStatus)
DPIA_WORDS = frozenset(s.value for s in DpiaStatus)


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


def slugs_in_portfolio(session: Session, slugs: set[str]) -> set[str]:
    """Return which of these slugs name projects already in the portfolio."""
    found: set[str] = set()
    for chunk in chunks(sorted(slugs)):
        found.update(session.execute(select(col(Project.slug)).where(col(Project.slug).in_(chunk)))
                     .scalars())
    return found


def check_dependencies(session: Session, rows: list[CheckedRow], known: set[str],
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
