"""HTML pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session

from portfolio.services import projects as project_service
from web.deps import read_session
from web.templating import render

router = APIRouter(include_in_schema=False)

ReadSession = Annotated[Session, Depends(read_session)]


@router.get("/", name="home")
def home(
    request: Request, session: ReadSession, q: Annotated[str | None, Query(max_length=200)] = None
):  # type: ignore[no-untyped-def]
    """List the portfolio's projects."""
    projects = project_service.list_projects(session=session, q=q or None)
    return render(request, "home.html", {"projects": projects, "q": q or ""}, block="results")


@router.get("/projects/{slug}", name="project")
def project_page(request: Request, slug: str, session: ReadSession):  # type: ignore[no-untyped-def]
    """Show one project with its links and assessments."""
    project = project_service.get_project(session=session, slug=slug)
    return render(request, "project.html", {"project": project})
