"""The review queue."""

from __future__ import annotations

from fastapi import Request

from portfolio.errors import NotFound, Unrankable
from portfolio.services import ranking as ranking_service
from portfolio.services import reviews as review_service
from web.pages_common import AppDatabase
from web.routing import Router
from web.security import READ
from web.templating import render

router = Router()


@router.get("/reviews", name="reviews", dependencies=[READ])
def review_queue(request: Request, db: AppDatabase):
    """List the projects awaiting a decision with their score, rank, cost and days waiting."""
    # The ranking is read with no session open: it may wait for a re-ranking that needs one.
    try:
        run = ranking_service.ensure_ranking(db, None, wait_seconds=0.0)
    except (NotFound, Unrankable):  # no usable weight profile: the queue still lists what waits
        run = None
    with db.read() as session:
        context = review_service.review_queue(session=session,
                                              run_id=run.rows_id if run else None)
    return render(request, "reviews.html", context | {"run": run})
