"""Plain functions that make test data through the services."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from portfolio.actors import SYSTEM, Actor
from portfolio.services import datasets as dataset_service
from portfolio.services import organisations as organisation_service
from portfolio.services import projects as project_service


def make_organisation(session: Session, code: str = "E09000002", **fields: Any) -> dict:
    """Create an organisation."""
    data = {
        "code": code,
        "name": fields.pop("name", f"Organisation {code}"),
        "kind": fields.pop("kind", "borough"),
        **fields,
    }
    return organisation_service.create_organisation(session=session, actor=SYSTEM, data=data)


def make_project(
    session: Session, slug: str, owner: str = "E09000002", actor: Actor = SYSTEM, **fields: Any
) -> dict:
    """Create a project."""
    data = {
        "slug": slug,
        "title": fields.pop("title", slug.replace("-", " ").title()),
        "owner": owner,
        "theme": fields.pop("theme", "housing"),
        **fields,
    }
    return project_service.create_project(session=session, actor=actor, data=data)


def make_dataset(session: Session, code: str, publisher: str = "E09000002", **fields: Any) -> dict:
    """Create a dataset."""
    data = {
        "code": code,
        "title": fields.pop("title", code),
        "publisher": publisher,
        "access": fields.pop("access", "open"),
        **fields,
    }
    return dataset_service.create_dataset(session=session, actor=SYSTEM, data=data)


def depend(session: Session, slug: str, on: str) -> dict:
    """Make one project depend on another."""
    return project_service.add_dependency(
        session=session, actor=SYSTEM, slug=slug, data={"depends_on": on}
    )
