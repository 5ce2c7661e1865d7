"""The datasets list and a dataset's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from portfolio.services import dataset_pages
from web.pages_common import ReadSession
from web.security import READ
from web.templating import render

router = APIRouter()


@router.get("/datasets", name="datasets", dependencies=[READ])
def datasets(
    request: Request,
    session: ReadSession,
    publisher: Annotated[str, Query(max_length=32)] = "",
    access: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
):  # type: ignore[no-untyped-def]
    """List datasets filtered by publisher, access and text; the filters live in the URL."""
    context = dataset_pages.datasets_page(
        session=session, publisher=publisher or None, access=access or None, q=q.strip() or None
    )
    context["filters"] = {"publisher": publisher, "access": access, "q": q}
    return render(request, "datasets.html", context, block="results")


@router.get("/datasets/{code}", name="dataset", dependencies=[READ])
def dataset(request: Request, code: str, session: ReadSession):  # type: ignore[no-untyped-def]
    """Show a dataset: its readiness level explained, publisher, access, licence and projects."""
    return render(request, "dataset.html", dataset_pages.dataset_page(session=session, code=code))
