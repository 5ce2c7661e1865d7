"""HTML pages: the projects list here, the rest in the pages_* modules included below."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from portfolio.services import projects as project_service
from web import pages_datasets, pages_links, pages_projects, pages_reviews
from web.pages_common import ReadSession
from web.security import READ
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", name="home", dependencies=[READ])
def home(
    request: Request, session: ReadSession, q: Annotated[str | None, Query(max_length=200)] = None
):  # type: ignore[no-untyped-def]
    """List the portfolio's projects."""
    projects = project_service.list_projects(session=session, q=q or None)
    return render(request, "home.html", {"projects": projects, "q": q or ""}, block="results")


# pages_projects declares /projects/new before /projects/{slug}, so "new" is never a slug.
for module in (pages_projects, pages_links, pages_reviews, pages_datasets):
    router.include_router(module.router, include_in_schema=False)
