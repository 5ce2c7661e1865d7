"""A project's information governance stages: the form on its page and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict

from portfolio.enums import IgStatus
from portfolio.errors import Invalid
from portfolio.schemas import LongText
from portfolio.services import ig as ig_service
from web.api_contract import ERRORS
from web.api_models import IsoDate, body_of
from web.pages_common import CHOICES, CurrentActor, FormData, ReadSession, WriteSession, choices
from web.routing import Router
from web.security import READ, Policy, policy
from web.templating import flash, templates

router = Router()
IG = Depends(policy(Policy.IG))
CHOICES["ig_status"] = choices(IgStatus)


def ig_path(request: Request, slug: str) -> dict[str, Any]:
    """Return a project's IG path for its page."""
    with request.app.state.database.read() as session:
        return ig_service.ig_path(session=session, slug=slug)


templates.env.globals["ig_path"] = ig_path


@router.post("/projects/{slug}/ig", name="ig_record", dependencies=[IG],
             include_in_schema=False)
def record_stage(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                 form: FormData):
    """Record an IG stage from the project page, then show the page again."""
    data = {k: form.get(k, "") for k in ("status", "dated_on", "note")}
    try:
        ig_service.record_stage(session=session, actor=actor, slug=slug,
                                stage=form.get("stage", ""), data=data)
        flash(request, "The stage is recorded.")
    except Invalid as exc:
        session.rollback()
        flash(request, "Not recorded: " + "; ".join(exc.errors.values()))
    return RedirectResponse(f"{request.url_for('project', slug=slug)}#ig", status_code=303)


class StageIn(BaseModel):
    """A stage's status, the day it reached it and a note (a DPIA's status is the project's)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    status: IgStatus = IgStatus.NOT_STARTED
    dated_on: IsoDate | None = None
    note: LongText = ""


@router.get("/api/v1/projects/{slug}/ig", dependencies=[READ], tags=["projects"],
            responses=ERRORS)
def get_ig(slug: str, session: ReadSession) -> dict[str, Any]:
    """Return a project's IG stages in order with status, date and what is missing."""
    found = ig_service.ig_path(session=session, slug=slug)
    found.pop("owner_id", None)
    return found


@router.put("/api/v1/projects/{slug}/ig/{stage}", dependencies=[IG], tags=["projects"],
            responses=ERRORS)
def put_ig(slug: str, stage: str, session: WriteSession, actor: CurrentActor,
           body: Annotated[StageIn, Body(examples=[{
               "status": "done", "dated_on": "2026-11-20", "note": "Screened: DPIA needed."}])],
           ) -> dict[str, Any]:
    """Record a stage (dpia_screening, dpia: date and note, privacy_notice)."""
    return ig_service.record_stage(session=session, actor=actor, slug=slug, stage=stage,
                                   data=body_of(body))
