"""Pages to register, edit and review a project."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlmodel import Session

from portfolio.errors import Conflict, Invalid, NotFound, Unrankable
from portfolio.schemas import ProjectCreate, ProjectUpdate, parse
from portfolio.services import criteria as criteria_service
from portfolio.services import organisations as organisation_service
from portfolio.services import projects as project_service
from portfolio.services import ranking as ranking_service
from portfolio.services import reviews as review_service
from web.deps import seen_revision
from web.pages_common import (
    AppDatabase,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    input_from_form,
)
from web.security import DECIDE, EDIT, READ, relative
from web.templating import render

router = APIRouter()

# Fields whose rules read another field: checking one re-checks the other too.
RELATED_FIELDS = {
    "start_date": ("end_date",),
    "end_date": ("start_date",),
    "mandatory": ("mandatory_justification",),
    "mandatory_justification": ("mandatory",),
}
NEW_PROJECT_DEFAULTS = {"status": "idea", "dpia_status": "not_needed", "cost_gbp": "0"}


def see_other(url: Any) -> RedirectResponse:
    """Answer a successful form post with a redirect, so reloading does not post again.

    The Location is relative: a Host header sent by the client never names where to go.
    """
    return RedirectResponse(relative(url), status_code=303)


def project_values(project: dict[str, Any]) -> dict[str, Any]:
    """Return a project's fields as the edit form shows them."""
    values = {name: project.get(name) for name in ProjectUpdate.model_fields}
    values["owner"] = project["organisation"]
    for name in ("personal_data", "mandatory"):
        values[name] = "on" if project.get(name) else ""
    return values


def render_editor(
    request: Request,
    session: Session,
    slug: str,
    *,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    **extra: Any,
):  # type: ignore[no-untyped-def]
    """Render the edit page, keeping whatever the user typed into the form that failed."""
    context = criteria_service.project_editor(session=session, slug=slug)
    context["values"] = values if values is not None else project_values(context["project"])
    context.setdefault("errors", {})
    context.setdefault("forms", {})
    context.setdefault("conflict", None)
    context.setdefault("notice", None)
    context.update(extra)
    return render(request, "project_edit.html", context, status_code=status_code)


@router.get("/projects/new", name="project_new", dependencies=[EDIT])
def new_project(request: Request, session: ReadSession):  # type: ignore[no-untyped-def]
    """Show the form to register a project."""
    organisations = organisation_service.list_organisations(session=session)
    context = {"organisations": organisations, "values": NEW_PROJECT_DEFAULTS, "errors": {}}
    return render(request, "project_new.html", context)


@router.post("/projects/new", name="project_register", dependencies=[EDIT])
def register_project(request: Request, session: WriteSession, actor: CurrentActor, form: FormData):  # type: ignore[no-untyped-def]
    """Register a project, or show the form again with a message by each wrong field."""
    data = input_from_form(form, ProjectCreate)
    try:
        created = project_service.create_project(session=session, actor=actor, data=data)
    except Invalid as exc:
        session.rollback()
        organisations = organisation_service.list_organisations(session=session)
        context = {"organisations": organisations, "values": form, "errors": exc.errors}
        return render(request, "project_new.html", context, status_code=422)
    url = request.url_for("project_edit", slug=created["slug"]).include_query_params(created=1)
    return see_other(url)


@router.post("/projects/validate", name="project_validate", dependencies=[EDIT])
def validate_project(
    request: Request,
    form: FormData,
    field: Annotated[str, Query(pattern=r"^[a-z_]{1,40}$")],
):  # type: ignore[no-untyped-def]
    """Check a project form as it is filled in; answer the message for one field (and its kin)."""
    model = ProjectUpdate if "version" in form else ProjectCreate
    related = [name for name in RELATED_FIELDS.get(field, ()) if name in model.model_fields]
    errors = check_fields(model, input_from_form(form, model), [field, *related])
    context = {"field": field, "errors": errors, "related": related}
    return render(request, "_field_errors.html", context)


# Valid stand-ins for required fields not filled in yet: rules across fields only run once
# every field is valid, and a half-filled form should still hear about them.
STAND_INS = {"slug": "stand-in", "title": "stand-in", "owner": "STAND-IN", "theme": "housing"}


def check_fields(model: type[BaseModel], data: dict[str, Any], wanted: list[str]) -> dict[str, str]:
    """Return the submit-time messages for some fields, however far the form is filled."""
    try:
        parse(model, data)
        return {}
    except Invalid as exc:
        errors = exc.errors
    others = [name for name in errors if name not in wanted]
    if not others or any(name in errors for name in wanted):
        return errors
    stand_in = {k: v for k, v in data.items() if k not in others}
    stand_in |= {k: STAND_INS[k] for k in others if k in STAND_INS}
    stand_in |= {"version": 1} if "version" in others else {}
    try:
        parse(model, stand_in)
    except Invalid as exc:
        return {name: message for name, message in exc.errors.items() if name in wanted}
    return {}


@router.get("/projects/{slug}", name="project", dependencies=[READ])
def project_page(request: Request, slug: str, db: AppDatabase):  # type: ignore[no-untyped-def]
    """Show one project with its score, links, assessments, review panel and history."""
    with db.read() as session:
        context = review_service.project_page(session=session, slug=slug)
    # Read with no session open: the ranking may wait for a re-ranking that needs a connection.
    ranking_error = None
    try:
        ranking = ranking_service.explain(db, slug, seen=seen_revision(request))
    except NotFound:  # no weight profile yet (the project itself was found above)
        ranking = None
    except Unrankable as exc:  # the project is still shown, its rank says why it is missing
        ranking, ranking_error = None, exc.message
    return render(request, "project.html", context | {
        "values": {}, "errors": {}, "ranking": ranking, "ranking_error": ranking_error})


@router.get("/projects/{slug}/edit", name="project_edit", dependencies=[EDIT])
def edit_project(
    request: Request,
    slug: str,
    session: ReadSession,
    created: Annotated[int | None, Query()] = None,
):  # type: ignore[no-untyped-def]
    """Show the form to edit a project, its links and its assessment."""
    notice = (
        "The project is registered. Now add its dependencies, datasets and partners, and assess it."
        if created
        else None
    )
    return render_editor(request, session, slug, notice=notice)


@router.post("/projects/{slug}/edit", name="project_update", dependencies=[EDIT])
def update_project(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):  # type: ignore[no-untyped-def]
    """Save an edit made from the version the user read; a stale one shows what changed."""
    data = input_from_form(form, ProjectUpdate)
    try:
        project_service.update_project(session=session, actor=actor, slug=slug, data=data)
    except Conflict as exc:
        session.rollback()
        return conflict_page(request, session, slug, form, exc)
    except Invalid as exc:
        session.rollback()
        return render_editor(
            request, session, slug, status_code=422, values=form, errors=exc.errors
        )
    return see_other(request.url_for("project", slug=slug))


def conflict_page(
    request: Request, session: Session, slug: str, form: dict[str, str], exc: Conflict
):  # type: ignore[no-untyped-def]
    """Show the user's edit beside what changed meanwhile, ready to save over the new version."""
    context = criteria_service.project_editor(session=session, slug=slug)
    current = project_values(context["project"])
    changed = []
    for name in exc.changed:
        field = "owner" if name == "owner_id" else name
        now = context["project"]["organisation_name"] if field == "owner" else current.get(field)
        if field in ("personal_data", "mandatory"):
            now = bool(now)
        yours: Any = form.get(field)
        if field in ("personal_data", "mandatory"):
            yours = bool(yours)
        changed.append({"field": field, "now": now, "yours": yours})
    # Saving again applies the user's merge to the version they have now seen.
    values = dict(form) | {"version": context["project"]["version"]}
    conflict = {"message": exc.message, "changed": changed}
    context |= {"values": values, "errors": {}, "forms": {}, "conflict": conflict, "notice": None}
    return render(request, "project_edit.html", context, status_code=409)


@router.post("/projects/{slug}/decision", name="project_decide", dependencies=[DECIDE])
def decide(request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData):  # type: ignore[no-untyped-def]
    """Record a review decision with its rationale."""
    try:
        review_service.decide(
            session=session,
            actor=actor,
            slug=slug,
            decision=form.get("decision", ""),
            rationale=form.get("rationale", ""),
        )
    except Invalid as exc:
        session.rollback()
        context = review_service.project_page(session=session, slug=slug)
        # The score section is left out: this request holds the write lock a ranking needs.
        context |= {"values": form, "errors": exc.errors, "ranking": False}
        return render(request, "project.html", context, status_code=422)
    return see_other(str(request.url_for("project", slug=slug)) + "#review")
