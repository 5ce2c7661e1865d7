"""Datasets with their publisher, access and readiness level."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can, require
from portfolio.errors import Conflict, Invalid
from portfolio.models import Dataset, Organisation, Project, ProjectDataset, utcnow
from portfolio.schemas import DatasetCreate, DatasetFields, DatasetUpdate, VersionInput, parse
from portfolio.services.common import (
    add_new,
    as_record,
    containing,
    dataset_by_code,
    one_at_a_time,
    organisation_by_code,
    record,
    rows_changed,
)
from portfolio.services.merge import require_known_version, three_way, values_at

# Registrations and harvests add datasets under new codes one at a time (see harvest_entries).
NEW_DATASET_CODES = "new dataset codes"


def dataset_public(dataset: Dataset, publisher: Organisation) -> dict[str, Any]:
    """Return the public shape of a dataset."""
    return {
        "code": dataset.code,
        "title": dataset.title,
        "description": dataset.description,
        "publisher": publisher.code,
        "publisher_name": publisher.name,
        "access": dataset.access,
        "licence": dataset.licence,
        "update_frequency": dataset.update_frequency,
        "drl": dataset.drl,
        "url": dataset.url,
        "formats": dataset.formats,
        "source_identifier": dataset.source_identifier,
        "source_modified": dataset.source_modified.isoformat() if dataset.source_modified
        else None,
        "version": dataset.version,
    }


def create_dataset(*, session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Register a dataset; a lead only for their own organisation."""
    require(actor, Capability.EDIT_DATASET, doing="register datasets")
    values = parse(DatasetCreate, data)
    publisher = organisation_by_code(session, values.publisher, field="publisher")
    require(actor, Capability.EDIT_DATASET, publisher.id, doing="register datasets")
    taken = {"code": f"a dataset with code {values.code!r} already exists"}
    one_at_a_time(session, NEW_DATASET_CODES)  # a harvest choosing codes meanwhile sees this one
    if session.exec(select(Dataset.id).where(Dataset.code == values.code)).first():
        raise Invalid(taken)
    dataset = Dataset(
        code=values.code,
        title=values.title,
        description=values.description,
        publisher_id=int(publisher.id or 0),
        access=values.access.value,
        licence=values.licence,
        update_frequency=values.update_frequency.value,
        drl=values.drl.value,
        url=values.url or "",
    )
    add_new(session, dataset, taken=taken)
    record(
        session,
        actor,
        action="create",
        entity="dataset",
        entity_id=dataset.id,
        after=as_record(dataset),
    )
    return dataset_public(dataset, publisher)


DATASET_FIELDS = ("title", "description", "access", "licence", "update_frequency", "drl", "url")
EDITABLE = (*DATASET_FIELDS, "publisher_id")
# The row's fields that name a thing by its database id, and the API's name for each.
RECORD_NAMES = {"publisher": "publisher_id"}


def _input_of(dataset: Dataset, publisher_code: str) -> dict[str, Any]:
    """Return a saved dataset's fields as the service input that would have made them."""
    return {name: getattr(dataset, name) for name in DATASET_FIELDS} | {
        "publisher": publisher_code}


def _columns(values: DatasetFields, publisher_id: int | None) -> dict[str, Any]:
    """Return a validated dataset input as column values."""
    return {
        "title": values.title,
        "description": values.description,
        "publisher_id": publisher_id,
        "access": values.access.value,
        "licence": values.licence,
        "update_frequency": values.update_frequency.value,
        "drl": values.drl.value,
    } | ({"url": values.url} if values.url is not None else {})


def update_dataset(
    *, session: Session, actor: Actor, code: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Replace a dataset's fields from the version the user read; a stale version is refused."""
    require(actor, Capability.EDIT_DATASET, doing="edit datasets")
    values = parse(DatasetUpdate, data)
    dataset = dataset_by_code(session, code)
    require(actor, Capability.EDIT_DATASET, dataset, doing="edit datasets")
    publisher = organisation_by_code(session, values.publisher, field="publisher")
    require(actor, Capability.EDIT_DATASET, publisher.id, doing="move datasets")
    if dataset.version != values.version:
        raise _stale(session, dataset, values.version)
    _write(session, actor, dataset, _columns(values, publisher.id))
    return dataset_public(dataset, publisher)


def patch_dataset(
    *, session: Session, actor: Actor, code: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Change only the fields sent, merging a stale edit field by field (as for projects)."""
    require(actor, Capability.EDIT_DATASET, doing="edit datasets")
    data = dict(data)
    version = parse(VersionInput, {"version": data.pop("version", None)}).version
    unknown = sorted(set(data) - set(DATASET_FIELDS) - {"publisher"})
    if unknown:
        raise Invalid({name: "this field cannot be changed by an edit" for name in unknown})
    dataset = dataset_by_code(session, code)
    require(actor, Capability.EDIT_DATASET, dataset, doing="edit datasets")
    publisher_now = session.get(Organisation, dataset.publisher_id)
    assert publisher_now is not None
    values = parse(DatasetUpdate, _input_of(dataset, publisher_now.code) | data
                   | {"version": version})
    publisher = organisation_by_code(session, values.publisher, field="publisher")
    if publisher.id != dataset.publisher_id:
        require(actor, Capability.EDIT_DATASET, publisher.id, doing="move datasets")
    # An address sent empty clears it (stored as "": none); a replace without one keeps it.
    wanted = _columns(values, publisher.id) | ({"url": values.url or ""} if "url" in data
                                               else {})
    # Merged in the API's terms, so conflicts and what was applied and kept name its fields.
    typed = {k: v for k, v in wanted.items() if k != "publisher_id"} | {
        "publisher": publisher.code}
    mine = {k: typed[k] for k in data}
    theirs = {k: getattr(dataset, k) for k in EDITABLE}
    require_known_version(version, dataset.version, f"dataset {code!r}")
    base = theirs if version == dataset.version else values_at(
        session, entity="dataset", entity_id=dataset.id, version=version, current=theirs)
    base, theirs = as_sent(session, base), as_sent(session, theirs)
    applied, conflicts = three_way(base, theirs, mine)
    if conflicts:
        raise Conflict(
            f"dataset {code!r} was changed by someone else since you opened it (now version "
            f"{dataset.version}, you edited version {version}), and you both changed "
            + ", ".join(sorted(conflicts)),
            current=_shown(session, dataset), changed=_changed_since(session, dataset, version),
            conflicts=conflicts)
    kept = sorted(k for k in theirs if theirs[k] != base.get(k))
    if applied:
        _write(session, actor, dataset, {RECORD_NAMES.get(k, k): wanted[RECORD_NAMES.get(k, k)]
                                         for k in applied})
    shown = publisher if "publisher" in applied else publisher_now
    return dataset_public(dataset, shown) | {"applied": sorted(applied), "kept": kept}


def _changed_since(session: Session, dataset: Dataset, version: int) -> dict[str, Any]:
    """Return the fields changed after a version, with their current values."""
    current = as_record(dataset)
    was = values_at(session, entity="dataset", entity_id=dataset.id, version=version,
                    current=current)
    return as_sent(session, {k: current[k] for k in sorted(current) if was.get(k) != current[k]
                             and k != "version"})


def as_sent(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """Return a dataset's recorded fields as the API names them (the publisher by its code)."""
    # A client sends and reads organisations by code: a database id is no use to it.
    out = {k: v for k, v in fields.items() if k not in ("id", "publisher_id")}
    if "publisher_id" in fields:
        publisher = session.get(Organisation, fields["publisher_id"])
        out["publisher"] = publisher.code if publisher is not None else None
    return dict(sorted(out.items()))


def _stale(session: Session, dataset: Dataset, version: int) -> Conflict:
    """Return the refusal of a replacement made from an older version."""
    return Conflict(
        f"dataset {dataset.code!r} was changed by someone else (now version {dataset.version}, "
        f"you edited version {version})",
        current=_shown(session, dataset), changed=_changed_since(session, dataset, version))


def _shown(session: Session, dataset: Dataset) -> dict[str, Any]:
    """Return a dataset as the API's GET shows it (a refusal's `current`, never the row)."""
    publisher = session.get(Organisation, dataset.publisher_id)
    assert publisher is not None
    return dataset_public(dataset, publisher)


def _write(session: Session, actor: Actor, dataset: Dataset, changes: dict[str, Any]) -> None:
    """Write a dataset's changed fields with compare-and-set on its version, and audit them."""
    before = as_record(dataset)
    version = dataset.version
    result = session.execute(
        update(Dataset)
        .where(col(Dataset.id) == dataset.id, col(Dataset.version) == version)
        .values(**changes, version=Dataset.version + 1, updated_at=utcnow())
    )
    session.refresh(dataset)
    if rows_changed(result) != 1:
        raise _stale(session, dataset, version)
    record(session, actor, action="update", entity="dataset", entity_id=dataset.id,
           before=before, after=as_record(dataset))


def dataset_editor(*, session: Session, actor: Actor, code: str) -> dict[str, Any]:
    """Return what the dataset's edit form shows, to someone who may edit it."""
    dataset = dataset_by_code(session, code)
    require(actor, Capability.EDIT_DATASET, dataset, doing="edit datasets")
    publisher = session.get(Organisation, dataset.publisher_id)
    assert publisher is not None
    organisations = session.exec(
        select(Organisation.code, Organisation.name, Organisation.kind, Organisation.id)
        .order_by(Organisation.kind, Organisation.name)).all()
    return {
        "dataset": dataset_public(dataset, publisher) | {"publisher_id": dataset.publisher_id},
        # A lead may publish only as their own organisation.
        "organisations": [{"code": c, "name": n, "kind": k} for c, n, k, i in organisations
                          if can(actor, Capability.EDIT_DATASET, i)],
    }


def get_dataset(*, session: Session, code: str) -> dict[str, Any]:
    """Return one dataset with its publisher and where a portal published it."""
    dataset = dataset_by_code(session, code)
    publisher = session.get(Organisation, dataset.publisher_id)
    assert publisher is not None
    return dataset_public(dataset, publisher)


def list_datasets(
    *,
    session: Session,
    publisher: str | None = None,
    access: str | None = None,
    q: str | None = None,
    drl: str | None = None,
) -> list[dict[str, Any]]:
    """List datasets with their publisher and how many projects use them."""
    users = (
        select(ProjectDataset.dataset_id, func.count().label("n"))
        .where(ProjectDataset.relation == "uses")
        .group_by(col(ProjectDataset.dataset_id))
        .subquery()
    )
    query = (
        sa.select(
            col(Dataset.code),
            col(Dataset.title),
            col(Organisation.code),
            col(Organisation.name),
            col(Dataset.access),
            col(Dataset.licence),
            col(Dataset.update_frequency),
            col(Dataset.drl),
            func.coalesce(users.c.n, 0),
        )
        .join(Organisation, col(Organisation.id) == col(Dataset.publisher_id))
        .outerjoin(users, users.c.dataset_id == col(Dataset.id))
    )
    if publisher:
        query = query.where(col(Organisation.code) == publisher)
    if access:
        query = query.where(col(Dataset.access) == access)
    if drl:
        query = query.where(col(Dataset.drl) == drl)
    if q:
        query = query.where(containing(col(Dataset.title), q) | containing(col(Dataset.code), q))
    rows = session.execute(query.order_by(col(Dataset.title))).all()
    keys = (
        "code",
        "title",
        "publisher",
        "publisher_name",
        "access",
        "licence",
        "update_frequency",
        "drl",
        "used_by",
    )
    return [dict(zip(keys, row, strict=True)) for row in rows]


def shared_datasets(*, session: Session, minimum: int = 2) -> list[dict[str, Any]]:
    """List the datasets that several projects use or produce, with those projects by title."""
    rows = session.execute(
        sa.select(col(Dataset.code), col(Dataset.title), col(Project.slug), col(Project.title),
                  col(ProjectDataset.relation))
        .join(ProjectDataset, col(ProjectDataset.dataset_id) == col(Dataset.id))
        .join(Project, col(Project.id) == col(ProjectDataset.project_id))
        .where(col(Project.archived_at).is_(None))
        .order_by(Dataset.title, Dataset.code, Project.title, Project.slug)).all()
    shared: dict[str, dict[str, Any]] = {}
    for code, title, slug, project_title, relation in rows:
        entry = shared.setdefault(str(code), {"code": code, "title": title, "projects": []})
        known = entry["projects"][-1] if entry["projects"] else None
        if known is not None and known["slug"] == slug:
            # One project both using and producing it: one project, its relations together.
            known["relation"] = " and ".join(sorted({*known["relation"].split(" and "),
                                                     str(relation)}, reverse=True))
            continue
        entry["projects"].append({"slug": slug, "title": project_title, "relation": relation})
    found = [d for d in shared.values() if len(d["projects"]) >= minimum]
    return sorted(found, key=lambda d: (-len(d["projects"]), d["title"]))
