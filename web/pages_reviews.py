"""The review queue."""

from __future__ import annotations

from fastapi import APIRouter, Request

from portfolio.services import reviews as review_service
from web.pages_common import ReadSession
from web.security import READ
from web.templating import render

router = APIRouter()


@router.get("/reviews", name="reviews", dependencies=[READ])
def review_queue(request: Request, session: ReadSession):  # type: ignore[no-untyped-def]
    """List the projects awaiting a decision and the latest decisions with their rationale."""
    return render(request, "reviews.html", review_service.review_queue(session=session))
