"""The dataset catalogue, editable: register a dataset, assess its readiness with evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can
from portfolio.enums import ReadinessLevel
from portfolio.errors import Conflict, Invalid
from portfolio.models import Organisation
from portfolio.schemas import DatasetCreate, LongText, NumberOnly
from portfolio.services import agreement_pages, catalogue
from portfolio.services import datasets as dataset_service
from portfolio.services.dataset_pages import dataset_page
from web.api_contract import ERRORS
from web.api_models import body_of
from web.pages_common import (
    FIELD_LABELS,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    input_from_form,
)
from web.routing import Router
from web.security import DATASETS, READ
from web.templating import flash, render, templates

router = Router()
FIELD_LABELS.update({"url": "Web address", "evidence": "Evidence for the level"})


def dataset_readiness(request: Request, code: str) -> list[dict[str, Any]]:
    """Return a dataset's readiness assessments for its page."""
    with request.app.state.database.read() as session:
        return catalogue.readiness_history(session=session, code=code)


def dataset_dependants(request: Request) -> dict[str, dict[str, Any]]:
    """Return the active projects and value depending on each dataset, for the list."""
    values = agreement_pages.current_values(request.app.state.database)
    with request.app.state.database.read() as session:
        return catalogue.dependants(session=session, values=values)


templates.env.globals.update(dataset_readiness=dataset_readiness,
                             dataset_dependants=dataset_dependants)


def _publishers(session: Session, actor: Actor) -> list[dict[str, str]]:
    """Return the organisations this user may publish a dataset as."""
    rows = session.execute(select(col(Organisation.code), col(Organisation.name),
                                  col(Organisation.id))
                           .order_by(Organisation.name)).all()
    return [{"code": str(c), "name": str(n)} for c, n, i in rows
            if can(actor, Capability.EDIT_DATASET, i)]


def _register_form(request: Request, session: Session, actor: Actor, values: dict[str, Any],
                   errors: dict[str, str] | None = None, status_code: int = 200
                   ):
    return render(request, "dataset_register.html", {
        "values": values, "errors": errors or {},
        "publisher_choices": [(o["code"], o["name"]) for o in _publishers(session, actor)]},
        status_code=status_code)


@router.get("/catalogue/register", name="dataset_register", dependencies=[DATASETS],
            include_in_schema=False)
def register_form(request: Request, session: ReadSession,
                  actor: CurrentActor):
    """Show the form to register a dataset in the catalogue."""
    return _register_form(request, session, actor, {
        "access": "open", "update_frequency": "adhoc", "drl": "C4"})


@router.post("/catalogue/register", name="dataset_create", dependencies=[DATASETS],
             include_in_schema=False)
def register(request: Request, session: WriteSession, actor: CurrentActor,
             form: FormData):
    """Register a dataset; refusals come back beside their fields with nothing lost."""
    try:
        made = dataset_service.create_dataset(session=session, actor=actor,
                                              data=input_from_form(form, DatasetCreate))
    except Invalid as exc:
        session.rollback()
        return _register_form(request, session, actor, dict(form), exc.errors, 422)
    flash(request, "The dataset is registered.")
    return RedirectResponse(str(request.url_for("dataset", code=made["code"])), status_code=303)


@router.post("/datasets/{code}/readiness", name="dataset_readiness", dependencies=[DATASETS],
             include_in_schema=False)
def assess(request: Request, code: str, session: WriteSession, actor: CurrentActor,
           form: FormData):
    """Set a dataset's readiness level with its evidence, from the version the user read.

    A refusal comes back beside the fields with what was typed; a stale save (the dataset
    changed meanwhile) is a 409 showing the level now, the form ready to save from it.
    """
    data = {k: form.get(k, "") for k in ("drl", "evidence")}
    if form.get("version"):
        data["version"] = form["version"]
    try:
        catalogue.assess_readiness(session=session, actor=actor, code=code, data=data)
    except (Invalid, Conflict) as exc:
        session.rollback()
        context = dataset_page(session=session, code=code)
        status, errors = 422, exc.errors if isinstance(exc, Invalid) else {}
        if isinstance(exc, Conflict):
            now = context["dataset"]
            status, data = 409, data | {"version": now["version"]}
            errors = {"drl": f"Someone else changed the dataset while you were assessing it: "
                             f"its level is now {now['drl']} (see how it was assessed above). "
                             "Yours is kept here: record it again to replace theirs."}
        context |= {"readiness_values": data, "readiness_errors": errors}
        return render(request, "dataset.html", context, status_code=status)
    flash(request, "The readiness level is recorded with its evidence.")
    return RedirectResponse(f"{request.url_for('dataset', code=code)}#readiness",
                            status_code=303)


class ReadinessIn(BaseModel):
    """A dataset's readiness level, the evidence for it, and the version it was read at."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    drl: ReadinessLevel
    evidence: LongText
    version: Annotated[int, Field(ge=1), NumberOnly] | None = None


@router.post("/api/v1/datasets", dependencies=[DATASETS], status_code=201, tags=["datasets"],
             responses=ERRORS)
def api_create(session: WriteSession, actor: CurrentActor,
               body: Annotated[DatasetCreate, Body(examples=[{
                   "code": "bd-housing-repairs", "title": "Housing repairs requests",
                   "publisher": "E09000002", "access": "restricted", "licence": "",
                   "update_frequency": "daily", "drl": "C2",
                   "url": "https://example.london/repairs"}])]) -> dict[str, Any]:
    """Register a dataset (a lead as their own organisation)."""
    return dataset_service.create_dataset(session=session, actor=actor, data=body_of(body))


@router.get("/api/v1/datasets/{code}/readiness", dependencies=[READ], tags=["datasets"],
            responses=ERRORS)
def api_history(code: str, session: ReadSession) -> list[dict[str, Any]]:
    """Return a dataset's readiness assessments, newest first, with evidence and assessor."""
    return catalogue.readiness_history(session=session, code=code)


@router.post("/api/v1/datasets/{code}/readiness", dependencies=[DATASETS], tags=["datasets"],
             responses=ERRORS)
def api_assess(code: str, session: WriteSession, actor: CurrentActor,
               body: Annotated[ReadinessIn, Body(examples=[{
                   "drl": "B2", "evidence": "Duplicates and missing values checked.",
                   "version": 3}])]) -> dict[str, Any]:
    """Set a dataset's readiness level with the evidence for it (kept in its history)."""
    return catalogue.assess_readiness(session=session, actor=actor, code=code,
                                      data=body_of(body))
