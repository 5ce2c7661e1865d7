"""Pages of the portfolio over time, from its snapshots, and what changed since the last one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from portfolio.services import history
from web.pages_common import AppDatabase
from web.routing import Router
from web.security import Policy, policy
from web.templating import is_htmx_partial, render
from web.timeline import lines_over_time

router = Router(include_in_schema=False)
READ = Depends(policy(Policy.READ))


@router.get("/over-time", name="over_time", dependencies=[READ])
def over_time_page(request: Request, db: AppDatabase):
    """Chart projects by status, value by theme and dataset readiness across snapshots."""
    data = history.portfolio_over_time(db)
    labels = [s["label"] for s in data["snapshots"]]
    charts = [
        (name, title, lines_over_time(data[name], labels), data[name])
        for name, title in (("status", "Projects by status, archived ones included"),
                            ("value", "Value of active projects by theme (points)"),
                            ("readiness", "Datasets by readiness level"),
                            ("agreements", "Data-sharing agreements by standing"))
    ]
    return render(request, "over_time.html", {"history": data, "charts": charts})


@router.get("/projects/{slug}/over-time", name="project_over_time", dependencies=[READ])
def project_over_time(request: Request, db: AppDatabase,
                      slug: Annotated[str, Path(max_length=120)]):
    """Show a project's rank and score across snapshots (a fragment of its page)."""
    data = history.project_over_time(db, slug)
    template = "_project_over_time.html" if is_htmx_partial(request) else "fragment_page.html"
    return render(request, template, {"over_time": data, "partial": "_project_over_time.html",
                                      "heading": data["title"]})


@router.get("/dashboard/changes", name="changes_since_snapshot", dependencies=[READ])
def changes_since_snapshot(request: Request,
                           db: AppDatabase):
    """Show what changed since the newest snapshot (a fragment of the dashboard)."""
    data = history.changes_since_last_snapshot(db)
    template = ("_changes_since_snapshot.html" if is_htmx_partial(request)
                else "fragment_page.html")
    return render(request, template, {"changes": data, "partial": "_changes_since_snapshot.html",
                                      "heading": "The portfolio"})
