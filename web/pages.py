"""HTML pages: the projects list here, the rest in the pages_* modules included below."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request

from portfolio.enums import ProjectStatus, Role, Theme
from portfolio.models import Organisation
from portfolio.services import filters as closed_lists
from portfolio.services import organisations as organisation_service
from portfolio.services import projects as project_service
from portfolio.services import reviews as review_service
from web import pages_datasets, pages_links, pages_projects, pages_reviews
from web.pages_common import ReadSession
from web.routing import Router
from web.security import READ
from web.templating import render

router = Router(include_in_schema=False)
PAGE_SIZE = 100
Code = Annotated[str | None, Query(max_length=32)]
SORTS = {"title": "Project", "organisation": "Organisation", "theme": "Theme",
         "status": "Status"}


@router.get("/", name="home", dependencies=[READ])
def home(
    request: Request, session: ReadSession, q: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[str | None, Query(max_length=120)] = None,
    organisation: Code = None, theme: Code = None, status: Code = None,
    sort: Annotated[str, Query(pattern="^(title|organisation|theme|status)$")] = "title",
):
    """List the portfolio's projects, filtered and sorted, a page at a time."""
    actor = getattr(request.state, "actor", None)
    # A lead starts at their own organisation's projects; "All organisations" is one choice away.
    if organisation is None and "organisation" not in request.query_params:
        organisation = own_organisation(session, actor)
    organisations = organisation_service.list_organisations(session=session)
    applied, errors = closed_lists.sift(
        organisation=(closed_lists.organisations(o["code"] for o in organisations),
                      organisation),
        theme=(closed_lists.THEMES, theme), status=(closed_lists.PROJECT_STATUSES, status))
    # A value naming nothing is said beside its filter; the list is shown without it.
    filters: dict[str, Any] = {"q": q or None, **applied}
    found = project_service.list_projects(session=session, after=after or None,
                                          limit=PAGE_SIZE + 1, sort=sort,
                                          include_archived=False, **filters)
    next_after = found[PAGE_SIZE - 1]["slug"] if len(found) > PAGE_SIZE else None
    # An explicit empty organisation keeps "all" chosen for a lead across pages and sorts.
    kept = {k: v for k, v in filters.items() if v} | (
        {"organisation": ""} if not filters["organisation"] else {}) | {"sort": sort}
    # A lead sees the reviewer's open questions on their organisation's projects first.
    questions = review_service.questions_for(session=session, actor=actor)
    return render(request, "home.html", {
        "projects": found[:PAGE_SIZE], "q": q or "", "after": after, "questions": questions,
        "filters": filters, "sort": sort, "sorts": SORTS,
        "sort_urls": {key: f"{request.url.path}?{urlencode(kept | {'sort': key})}"
                      for key in SORTS},
        "organisations": organisations, "errors": errors,
        "themes": [t.value for t in Theme], "statuses": [s.value for s in ProjectStatus],
        "next_url": f"{request.url.path}?{urlencode(kept | {'after': next_after})}"
        if next_after else None,
        "first_url": f"{request.url.path}?{urlencode(kept)}" if after else None,
    }, block="results", status_code=422 if errors else 200)


def own_organisation(session, actor) -> str | None:
    """Return the code of a lead's organisation, else None (everyone else starts at all)."""
    if actor is None or actor.role != Role.LEAD or actor.organisation_id is None:
        return None
    owner = session.get(Organisation, actor.organisation_id)
    return owner.code if owner else None


# pages_projects declares /projects/new before /projects/{slug}, so "new" is never a slug.
for module in (pages_projects, pages_links, pages_reviews, pages_datasets):
    router.include_router(module.router, include_in_schema=False)
