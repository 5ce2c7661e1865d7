"""The JSON API under /api/v1."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from portfolio.actors import Actor
from portfolio.services import datasets as dataset_service
from portfolio.services import organisations as organisation_service
from portfolio.services import projects as project_service
from web.deps import current_actor, read_session, write_session

router = APIRouter(prefix="/api/v1", tags=["api"])

ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


@router.get("/organisations")
def list_organisations(session: ReadSession, kind: str | None = None) -> list[dict[str, Any]]:
    """List organisations (code, name, kind)."""
    return organisation_service.list_organisations(session=session, kind=kind)


@router.get("/projects")
def list_projects(
    session: ReadSession,
    organisation: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    theme: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """List projects (slug, title, organisation code, status and more)."""
    return project_service.list_projects(
        session=session, organisation=organisation, status=status, theme=theme, q=q
    )


@router.get("/projects/{slug}")
def get_project(slug: str, session: ReadSession) -> dict[str, Any]:
    """Return one project with its partners, datasets, dependencies and assessments."""
    return project_service.get_project(session=session, slug=slug)


@router.post("/projects", status_code=201)
def create_project(
    body: dict[str, Any], session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Register a project."""
    return project_service.create_project(session=session, actor=actor, data=body)


@router.put("/projects/{slug}")
def update_project(
    slug: str, body: dict[str, Any], session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Edit a project; the body carries the version it was read at."""
    return project_service.update_project(session=session, actor=actor, slug=slug, data=body)


@router.post("/projects/{slug}/dependencies", status_code=201)
def add_dependency(
    slug: str, body: dict[str, Any], session: WriteSession, actor: CurrentActor
) -> dict[str, Any]:
    """Record that a project depends on another (a cycle is refused with its path)."""
    return project_service.add_dependency(session=session, actor=actor, slug=slug, data=body)


@router.get("/datasets")
def list_datasets(
    session: ReadSession, publisher: str | None = None, access: str | None = None
) -> list[dict[str, Any]]:
    """List datasets with their readiness level and how many projects use them."""
    return dataset_service.list_datasets(session=session, publisher=publisher, access=access)


@router.get("/datasets/{code}")
def get_dataset(code: str, session: ReadSession) -> dict[str, Any]:
    """Return one dataset."""
    return dataset_service.get_dataset(session=session, code=code)
