"""The projects a user may import, written as an import file to edit and import again."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, only_own_organisation
from portfolio.enums import LinkRelation
from portfolio.models import Dataset, Organisation, Project, ProjectDataset, ProjectDependency
from portfolio.services.common import chunks
from portfolio.services.imports.columns import COLUMNS, LIST_COLUMNS
from portfolio.services.imports.reading import require_importer
from portfolio.services.projects import PROJECT_FIELDS
from portfolio.text import neutralise

EDITABLE_FORMATS = ("csv", "xlsx")


def projects_to_edit(*, session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Return the live projects the actor may import, by slug, as rows of the import's columns."""
    require_importer(actor)
    query = (select(Project, col(Organisation.code))
             .join(Organisation, col(Organisation.id) == col(Project.owner_id))
             .where(col(Project.archived_at).is_(None)).order_by(col(Project.slug)))
    if only_own_organisation(actor, Capability.IMPORT_PROJECTS):
        # A lead's file holds only what they may import: another's row would refuse the file.
        query = query.where(col(Project.owner_id) == actor.organisation_id)
    found: list[Any] = list(session.execute(query).all())
    datasets, depends_on = _lists(session, [int(p.id or 0) for p, _ in found])
    rows = []
    for project, owner in found:
        row: dict[str, Any] = {name: getattr(project, name) for name in PROJECT_FIELDS}
        row |= {"slug": project.slug, "owner": owner, "status_reason": None,
                # Read with the row: an edit made since refuses it (docs/IMPORT.md, version).
                "version": project.version,
                "datasets": ";".join(datasets.get(int(project.id or 0), [])),
                "depends_on": ";".join(depends_on.get(int(project.id or 0), []))}
        rows.append({name: row[name] for name in COLUMNS})
    return rows


def _lists(session: Session, ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Return the codes of the datasets each project uses and the slugs it depends on."""
    datasets: dict[int, list[str]] = {}
    depends_on: dict[int, list[str]] = {}
    prerequisite = Project.__table__.alias("prerequisite")  # type: ignore[attr-defined]
    for chunk in chunks(ids):
        link: Any
        for link in session.execute(
                select(col(ProjectDataset.project_id), col(Dataset.code))
                .join(Dataset, col(Dataset.id) == col(ProjectDataset.dataset_id))
                .where(col(ProjectDataset.project_id).in_(chunk),
                       col(ProjectDataset.relation) == LinkRelation.USES.value)
                .order_by(col(Dataset.code))):
            datasets.setdefault(link[0], []).append(link[1])
        for link in session.execute(
                select(col(ProjectDependency.project_id), prerequisite.c.slug)
                .join(prerequisite, prerequisite.c.id == col(ProjectDependency.depends_on_id))
                .where(col(ProjectDependency.project_id).in_(chunk))
                .order_by(prerequisite.c.slug)):
            depends_on.setdefault(link[0], []).append(link[1])
    return datasets, depends_on


def _text(value: Any) -> Any:
    """Return a text cell a spreadsheet shows rather than runs (the import takes the ' off)."""
    return neutralise(value) if isinstance(value, str) else value


def projects_csv(rows: list[dict[str, Any]]) -> bytes:
    """Write rows of the import's columns as a UTF-8 CSV file the import reads back.

    With a byte-order mark: Excel on Windows reads a CSV without one in the local code page.
    """
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(row[name]) for name in COLUMNS])
    return out.getvalue().encode("utf-8")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return _text(value)


def projects_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """Write rows of the import's columns as a workbook whose sheet `projects` the import reads."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("projects")
    sheet.append(list(COLUMNS))
    for row in rows:
        # Numbers, dates and true/false stay typed cells; lists are ';'-joined text.
        sheet.append([None if row[name] in (None, "") and name in LIST_COLUMNS
                      else _text(row[name]) for name in COLUMNS])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_projects(*, session: Session, actor: Actor, fmt: str) -> bytes:
    """Return the projects the actor may import as a CSV or XLSX import file."""
    rows = projects_to_edit(session=session, actor=actor)
    return projects_xlsx(rows) if fmt == "xlsx" else projects_csv(rows)
