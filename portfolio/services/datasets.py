"""Datasets with their publisher, access and readiness level."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.errors import Conflict, Invalid
from portfolio.models import Dataset, Organisation, ProjectDataset, utcnow
from portfolio.schemas import DatasetCreate, DatasetUpdate, parse
from portfolio.services.common import as_record, dataset_by_code, organisation_by_code, record


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
    if session.exec(select(Dataset.id).where(Dataset.code == values.code)).first():
        raise Invalid({"code": f"a dataset with code {values.code!r} already exists"})
    dataset = Dataset(
        code=values.code,
        title=values.title,
        description=values.description,
        publisher_id=publisher.id,
        access=values.access.value,
        licence=values.licence,
        update_frequency=values.update_frequency.value,
        drl=values.drl.value,
    )
    session.add(dataset)
    session.flush()
    record(
        session,
        actor,
        action="create",
        entity="dataset",
        entity_id=dataset.id,
        after=as_record(dataset),
    )
    return dataset_public(dataset, publisher)


def update_dataset(
    *, session: Session, actor: Actor, code: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Edit a dataset from the version the user read; a stale version is refused."""
    require(actor, Capability.EDIT_DATASET, doing="edit datasets")
    values = parse(DatasetUpdate, data)
    dataset = dataset_by_code(session, code)
    require(actor, Capability.EDIT_DATASET, dataset, doing="edit datasets")
    publisher = organisation_by_code(session, values.publisher, field="publisher")
    require(actor, Capability.EDIT_DATASET, publisher.id, doing="move datasets")
    before = as_record(dataset)
    changes = {
        "title": values.title,
        "description": values.description,
        "publisher_id": publisher.id,
        "access": values.access.value,
        "licence": values.licence,
        "update_frequency": values.update_frequency.value,
        "drl": values.drl.value,
    }
    # Compare-and-set on the version: the check and the write are one statement.
    result = session.execute(
        update(Dataset)
        .where(Dataset.id == dataset.id, Dataset.version == values.version)
        .values(**changes, version=Dataset.version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        session.refresh(dataset)
        raise Conflict(
            f"dataset {code!r} was changed by someone else (now version {dataset.version}, "
            f"you edited version {values.version})",
            current=as_record(dataset),
        )
    session.refresh(dataset)
    record(
        session,
        actor,
        action="update",
        entity="dataset",
        entity_id=dataset.id,
        before=before,
        after=as_record(dataset),
    )
    return dataset_public(dataset, publisher)


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
) -> list[dict[str, Any]]:
    """List datasets with their publisher and how many projects use them."""
    users = (
        select(ProjectDataset.dataset_id, func.count().label("n"))
        .where(ProjectDataset.relation == "uses")
        .group_by(ProjectDataset.dataset_id)
        .subquery()
    )
    query = (
        select(
            Dataset.code,
            Dataset.title,
            Organisation.code,
            Organisation.name,
            Dataset.access,
            Dataset.licence,
            Dataset.update_frequency,
            Dataset.drl,
            func.coalesce(users.c.n, 0),
        )
        .join(Organisation, Organisation.id == Dataset.publisher_id)
        .outerjoin(users, users.c.dataset_id == Dataset.id)
    )
    if publisher:
        query = query.where(Organisation.code == publisher)
    if access:
        query = query.where(Dataset.access == access)
    if q:
        query = query.where(Dataset.title.ilike(f"%{q}%") | Dataset.code.ilike(f"%{q}%"))
    rows = session.exec(query.order_by(Dataset.title)).all()
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
