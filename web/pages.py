"""HTML pages: the projects list here, the rest in the pages_* modules included below."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from portfolio.services import projects as project_service
from portfolio.services import reviews as review_service
from web import pages_datasets, pages_links, pages_projects, pages_reviews
from web.pages_common import ReadSession
from web.security import READ
from web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@router.get("/", name="home", dependencies=[READ])
def home(
    request: Request, session: ReadSession, q: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=120)] = None,
):
    """List the portfolio's projects by slug, a page at a time."""
    found = project_service.list_projects(session=session, q=q or None, after=after or None,
                                          limit=PAGE_SIZE + 1)
    next_after = found[PAGE_SIZE - 1]["slug"] if len(found) > PAGE_SIZE else None
    query = {k: v for k, v in {"q": q, "after": next_after}.items() if v}
    # A lead sees the reviewer's open questions on their organisation's projects first.
    questions = review_service.questions_for(session=session,
                                             actor=getattr(request.state, "actor", None))
    return render(request, "home.html", {
        "projects": found[:PAGE_SIZE], "q": q or "", "after": after, "questions": questions,
        "next_url": f"{request.url.path}?{urlencode(query)}" if next_after else None,
        "first_url": f"{request.url.path}?{urlencode({'q': q} if q else {})}" if after else None,
    }, block="results")


# pages_projects declares /projects/new before /projects/{slug}, so "new" is never a slug.
for module in (pages_projects, pages_links, pages_reviews, pages_datasets):
    router.include_router(module.router, include_in_schema=False)
