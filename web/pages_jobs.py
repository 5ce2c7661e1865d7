"""The admins' page of background jobs that failed (the job queue's, portfolio/jobs.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from portfolio import jobs
from portfolio.actors import Actor
from web.deps import get_database
from web.routing import Router
from web.security import Policy, policy
from web.templating import render

router = Router(include_in_schema=False)

JobWatcher = Annotated[Actor, Depends(policy(Policy.JOBS))]


@router.get("/admin/jobs", name="failed_jobs")
def failed_jobs(request: Request, actor: JobWatcher):
    """List background jobs' failed attempts, and which gave up, with their errors."""
    settings = request.app.state.settings
    db = get_database(request)
    # Jobs that failed for good apart: among every outcome they scroll off behind rankings.
    return render(request, "jobs.html", {
        "gave_up": jobs.recent_failures(db, actor, gave_up_only=True),
        "failures": jobs.recent_failures(db, actor),
        "queued": settings.uses_job_queue, "attempts": settings.job_attempts})
