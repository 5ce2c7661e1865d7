"""Writing a checked import: new and changed projects, links and dependencies, and their audit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.enums import (
    Agreement,
    FitForTask,
    LinkRelation,
)
from portfolio.models import (
    AuditEvent,
    Dataset,
    Project,
    ProjectDataset,
    ProjectDependency,
    table_of,
    utcnow,
)
from portfolio.services.common import chunks
from portfolio.services.imports.checking import CheckedRow, row_changes
from portfolio.services.imports.columns import WRITE_BATCH, ImportReport, Progress
from portfolio.services.projects import field_values


def sort_rows(report: ImportReport, rows: list[CheckedRow], existing: dict[str, Any],
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
        elif row_changes(current, row) or new_links or new_dependencies:
            report.updated.append(row.slug)
        else:
            report.unchanged.append(row.slug)


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


def write_rows(session: Session, actor: Actor, report: ImportReport, rows: list[CheckedRow],
           existing: dict[str, Any], datasets: dict[str, int], filename: str,
           tick: Progress) -> None:
    """Write the planned changes with bulk statements and their audit events."""
    now = utcnow()
    total = len(rows)
    tick("write", 0, total)
    audit: list[dict[str, Any]] = []
    created = set(report.created)
    new_rows = [row for row in rows if row.slug in created]
    values = {r.slug: {"slug": r.slug, "owner_id": r.owner_id, **field_values(r.values),
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
            changes = row_changes(current, row)
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
    # A prerequisite may be any project of the portfolio, not only one of the file's.
    ids |= _ids_of(session, sorted({d for row in rows for d in row.depends_on} - set(ids)))
    slugs = {v: k for k, v in ids.items()}
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
