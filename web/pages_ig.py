"""A project's information governance stages: the form on its page and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from portfolio.enums import IgStatus
from portfolio.errors import Conflict, Invalid
from portfolio.schemas import LongText
from portfolio.services import ig as ig_service
from web.api_contract import ERRORS
from web.api_models import IsoDate, body_of
from web.pages_common import (
    CHOICES,
    FIELD_LABELS,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    choices,
    label,
)
from web.routing import Router
from web.security import READ, Policy, policy
from web.templating import flash, render, templates

router = Router()
IG = Depends(policy(Policy.IG))
CHOICES["ig_status"] = choices(IgStatus)
FIELD_LABELS.update(dated_on="Date", note="Note")


def ig_path(request: Request, slug: str) -> dict[str, Any]:
    """Return a project's IG path for its page."""
    with request.app.state.database.read() as session:
        return ig_service.ig_path(session=session, slug=slug)


templates.env.globals["ig_path"] = ig_path


# The fields of a stage's form; each form also carries the values it started from (was_NAME).
STAGE_FIELDS = ("status", "dated_on", "note")


@router.post("/projects/{slug}/ig", name="ig_record", dependencies=[IG],
             include_in_schema=False)
def record_stage(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                 form: FormData):
    """Record the fields of an IG stage the user changed; a refusal keeps everything typed."""
    stage = form.get("stage", "")
    # Only what the form sent: the DPIA's form has no status (the project's is used).
    data = {k: form[k] for k in STAGE_FIELDS if k in form}
    was = {k: form.get(f"was_{k}", "") for k in STAGE_FIELDS if f"was_{k}" in form}
    try:
        ig_service.record_stage(session=session, actor=actor, slug=slug, stage=stage,
                                data=data, was=was or None)
    except Invalid as exc:
        session.rollback()
        return _page_again(request, session, slug, {
            "stage": stage, "values": dict(form), "errors": exc.errors}, 422)
    except Conflict as exc:
        # Only the fields both changed come back: theirs beside each, the rest merged.
        session.rollback()
        saved = {k: v or "" for k, v in exc.current.items()}
        mine = {k: form.get(k, "") for k in STAGE_FIELDS if k in exc.conflicts}
        errors = {k: f"Changed meanwhile by someone else to “{shown(k, saved[k])}”. Yours is kept "
                     "here: record the stage again to replace theirs." for k in mine}
        values = saved | mine | {"stage": stage} | {f"was_{k}": v for k, v in saved.items()}
        return _page_again(request, session, slug, {
            "stage": stage, "values": values, "errors": errors}, 409)
    flash(request, "The stage is recorded.")
    return RedirectResponse(f"{request.url_for('project', slug=slug)}#ig", status_code=303)


def _page_again(request: Request, session: Session, slug: str, ig_form: dict[str, Any],
                status_code: int):
    """Show the project page again with a stage's form as the user sent it."""
    from web.pages_projects import page_context  # the project page is that module's

    context = page_context(request, session, slug, ig_form=ig_form)
    return render(request, "project.html", context | {
        "values": {}, "errors": {}, "ranking": False, "ranking_error": None},
        status_code=status_code)


def shown(name: str, value: str) -> str:
    """Return a stored field as a person reads it (a status by its label, a blank as none)."""
    return label(value) if name == "status" else value or "nothing"


class StageRead(BaseModel):
    """A stage as the client read it."""

    model_config = ConfigDict(extra="forbid")

    status: IgStatus = IgStatus.NOT_STARTED
    dated_on: IsoDate | None = None
    note: LongText = ""


class StageIn(BaseModel):
    """A stage's status, the day it reached it and a note (a DPIA's status is the project's)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    status: IgStatus = IgStatus.NOT_STARTED
    dated_on: IsoDate | None = None
    note: LongText = ""
    was: StageRead | None = Field(default=None, description=(
        "The stage as read: then only the fields changed from it are written, merged with what "
        "is stored now, and one changed differently since answers 409 with `conflicts`. Left "
        "out (or null), the stage is replaced"))


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
    data = body_of(body)
    was = data.pop("was", None)
    return ig_service.record_stage(session=session, actor=actor, slug=slug, stage=stage,
                                   data=data, was=was)
