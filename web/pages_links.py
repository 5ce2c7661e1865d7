"""Forms on the edit page for a project's links and assessment, and the pickers they use."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Query, Request
from sqlmodel import Session

from portfolio.errors import Conflict, Invalid, NotAllowed
from portfolio.schemas import AssessmentInput, DatasetLinkInput, DependencyInput, PartnerInput
from portfolio.services import collaboration as collaboration_service
from portfolio.services import dataset_pages, project_pages
from portfolio.services import projects as project_service
from web.pages_common import (
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    input_from_form,
    sentence,
)
from web.pages_projects import render_editor, see_other
from web.routing import Router
from web.security import ASSESS, EDIT, READ
from web.templating import flash, is_htmx_partial, render

router = Router()

TargetId = Annotated[str, Query(pattern=r"^[a-z][a-z0-9_-]{0,60}$")]
SearchText = Annotated[str, Query(max_length=200)]


def link_write(
    request: Request,
    session: Session,
    slug: str,
    form: dict[str, str],
    *,
    form_name: str,
    anchor: str,
    write: Callable[[], Any],
    done: str = "Saved.",
    typed: bool = True,
):
    """Run one link write; on a refusal show the edit page with the message by the field.

    Sent by htmx, the answer is the edit page whose one section the browser swaps in, so
    unsaved input in the page's other sections stays; sent as a plain form, a redirect.
    `typed` is False for a button's form (a row's Remove, Accept or Decline: hidden fields):
    a refusal then keeps none of it in the section's add form.
    """
    htmx = is_htmx_partial(request)

    def state_of(state: dict[str, Any]) -> dict[str, Any]:
        if form_name.startswith("assess:"):
            return {"assess": {form_name.removeprefix("assess:"): state}}
        return {form_name: state}

    try:
        write()
    except Invalid as exc:
        session.rollback()
        forms = state_of({"values": form, "errors": exc.errors} if typed else
                         {"errors": {"form": sentence("; ".join(exc.errors.values()))}})
        # htmx swaps only successful answers: the refusal comes as the page with its message.
        return render_editor(request, session, slug, status_code=200 if htmx else 422,
                             forms=forms)
    except Conflict as exc:
        # Changed meanwhile by someone else: what was typed stays beside the newer state, and
        # the section now starts from that state, so sending again is a choice made knowingly.
        session.rollback()
        if not typed:
            # Nothing was typed: the add form below keeps its own defaults, not the row's (an
            # organisation put in it would be a click from being added as a partner).
            forms = state_of({"errors": {"form": sentence(exc.message)}})
        else:
            forms = state_of({"values": form, "errors": {_first_field(form): sentence(
                exc.message)}})
        return render_editor(request, session, slug, status_code=200 if htmx else 409,
                             forms=forms)
    except NotAllowed as exc:
        session.rollback()
        actor = getattr(request.state, "actor", None)
        if not project_pages.may_edit(session=session, slug=slug, actor=actor):
            # Not this user's project (any more): the refusal says why and keeps what was
            # typed (beside the form under htmx, app.js; else on the refusal's page), without
            # offering the editor's other controls.
            raise
        forms = state_of(({"values": form} if typed else {})
                         | {"errors": {"form": sentence(exc.message)}})
        return render_editor(request, session, slug, status_code=200 if htmx else 403,
                             forms=forms)
    if htmx:
        session.flush()
        return render_editor(request, session, slug, forms=state_of({"saved": done}))
    flash(request, done)
    return see_other(f"{request.url_for('project_edit', slug=slug)}#{anchor}")


def _first_field(form: dict[str, str]) -> str:
    """Return the field naming what a link form links (its message goes beside it)."""
    return next(name for name in ("organisation", "dataset", "depends_on", "form")
                if name in form or name == "form")


def read_links(form: dict[str, str], name: str = "read") -> dict[str, Any] | None:
    """Return the links (or link) a form showed when it was sent, or None if it does not say."""
    if name not in form:
        return None
    try:
        read = json.loads(form[name])
    except (ValueError, RecursionError):  # nested past the parser's depth: damaged too
        read = None
    if not isinstance(read, dict):
        raise Invalid({"form": "The form is damaged: reload the page and try again."})
    return read


@router.post("/projects/{slug}/dependencies", name="dependency_add", dependencies=[EDIT])
def add_dependency(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Make the project depend on another; a cycle is refused and named."""
    return link_write(
        request,
        session,
        slug,
        form,
        form_name="dependency",
        anchor="dependencies",
        done="The dependency is added.",
        write=lambda: project_service.add_dependency(
            session=session, actor=actor, slug=slug, data=input_from_form(form, DependencyInput)
        ),
    )


@router.post("/projects/{slug}/dependencies/remove", name="dependency_remove", dependencies=[EDIT])
def remove_dependency(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Remove one of the project's dependencies."""
    return link_write(
        request,
        session,
        slug,
        form,
        form_name="dependency",
        anchor="dependencies",
        done="The dependency is removed.",
        typed=False,
        write=lambda: project_service.remove_dependency(
            session=session, actor=actor, slug=slug, depends_on=form.get("depends_on", ""),
            was_note=form.get("was_note")),
    )


@router.post("/projects/{slug}/datasets", name="dataset_link", dependencies=[EDIT])
def link_dataset(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Link a dataset the project uses or produces, or update that link."""
    return link_write(
        request,
        session,
        slug,
        form,
        form_name="dataset",
        anchor="datasets",
        done="The dataset link is saved.",
        write=lambda: project_service.link_dataset(
            session=session, actor=actor, slug=slug, data=input_from_form(form, DatasetLinkInput),
            read=read_links(form),
        ),
    )


@router.post("/projects/{slug}/datasets/remove", name="dataset_unlink", dependencies=[EDIT])
def unlink_dataset(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Remove a dataset link from the project."""
    return link_write(
        request,
        session,
        slug,
        form,
        form_name="dataset",
        anchor="datasets",
        done="The dataset is unlinked.",
        typed=False,
        write=lambda: project_service.unlink_dataset(
            session=session,
            actor=actor,
            slug=slug,
            dataset=form.get("dataset", ""),
            relation=form.get("relation", "uses"),
            was=read_links(form, "was"),
        ),
    )


@router.post("/projects/{slug}/partners", name="partner_add", dependencies=[EDIT])
def add_partner(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Add a partner organisation with its role, or change its role."""
    return link_write(
        request,
        session,
        slug,
        form,
        form_name="partner",
        anchor="partners",
        done="The partner is saved.",
        write=lambda: project_service.add_partner(
            session=session, actor=actor, slug=slug, data=input_from_form(form, PartnerInput),
            read=read_links(form),
        ),
    )


@router.post("/projects/{slug}/partners/remove", name="partner_remove", dependencies=[EDIT])
def remove_partner(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Remove a partner organisation from the project."""
    return link_write(
        request,
        session,
        slug,
        form,
        form_name="partner",
        anchor="partners",
        done="The partner is removed.",
        typed=False,
        write=lambda: project_service.remove_partner(
            session=session, actor=actor, slug=slug, organisation=form.get("organisation", ""),
            was_role=form.get("was_role"),
        ),
    )


@router.post("/projects/{slug}/partner-requests/accept", name="partner_request_accept",
             dependencies=[EDIT])
def accept_partner_request(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Accept an organisation's request to partner in the project."""
    return link_write(
        request, session, slug, form, form_name="partner", anchor="partners",
        done="The request is accepted: the organisation is a partner.", typed=False,
        write=lambda: collaboration_service.accept_partner_request(
            session=session, actor=actor, slug=slug, organisation=form.get("organisation", "")),
    )


@router.post("/projects/{slug}/partner-requests/decline", name="partner_request_decline",
             dependencies=[EDIT])
def decline_partner_request(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Decline an organisation's request to partner in the project."""
    return link_write(
        request, session, slug, form, form_name="partner", anchor="partners",
        done="The request is declined.", typed=False,
        write=lambda: collaboration_service.decline_partner_request(
            session=session, actor=actor, slug=slug, organisation=form.get("organisation", "")),
    )


@router.post("/projects/{slug}/assessments", name="project_assess", dependencies=[EDIT])
def assess(request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData):
    """Record the project's level on one criterion with a rationale."""
    criterion = form.get("criterion", "")
    return link_write(
        request,
        session,
        slug,
        form,
        form_name=f"assess:{criterion}",
        anchor=f"assess-{criterion}",
        done="The assessment is saved; earlier ones stay in the history.",
        write=lambda: project_service.assess(
            session=session, actor=actor, slug=slug, data=input_from_form(form, AssessmentInput)
        ),
    )


def render_assessor(request: Request, session: Session, slug: str, actor: Any, *,
                    status_code: int = 200, forms: dict[str, Any] | None = None):
    """Render the assess page, keeping a refused form's input with its message."""
    context = project_pages.assessor_page(session=session, slug=slug, actor=actor)
    return render(request, "project_assess.html", context | {"forms": forms or {}},
                  status_code=status_code)


@router.get("/projects/{slug}/assess", name="project_assess_page", dependencies=[ASSESS])
def assess_page(request: Request, slug: str, session: ReadSession, actor: CurrentActor):
    """Show the criteria to assess a project on: its leads, its partners' leads and staff."""
    return render_assessor(request, session, slug, actor)


@router.post("/projects/{slug}/assess", name="project_assess_own", dependencies=[ASSESS])
def assess_from_page(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                     form: FormData):
    """Record one's own level on one criterion from the assess page."""
    criterion = form.get("criterion", "")
    try:
        project_service.assess(session=session, actor=actor, slug=slug,
                               data=input_from_form(form, AssessmentInput))
    except Invalid as exc:
        session.rollback()
        state = {"values": form, "errors": exc.errors}
        return render_assessor(request, session, slug, actor, status_code=422,
                               forms={"assess": {criterion: state}})
    flash(request, "The assessment is saved; earlier ones stay in the history.")
    page = request.url_for("project_assess_page", slug=slug)
    return see_other(f"{page}#assess-{criterion}")


# Form actions that only take POST: a reload or a shared link goes back to the edit page.
for _path in ("/projects/{slug}/dependencies", "/projects/{slug}/dependencies/remove",
              "/projects/{slug}/datasets", "/projects/{slug}/datasets/remove",
              "/projects/{slug}/partners", "/projects/{slug}/partners/remove",
              "/projects/{slug}/partner-requests/accept",
              "/projects/{slug}/partner-requests/decline",
              "/projects/{slug}/assessments"):
    def _back(request: Request, slug: str):
        """Send a GET of a form action back to the edit page the form is on."""
        return see_other(request.url_for("project_edit", slug=slug))

    router.add_api_route(_path, _back, methods=["GET"], dependencies=[READ],
                         include_in_schema=False,
                         name="back_" + _path.removeprefix("/projects/{slug}/").replace("/", "_"))


def render_picks(request: Request, items: list[dict[str, Any]], q: str, target: str):
    """Render a picker's suggestions."""
    return render(request, "_picks.html", {"items": items, "q": q, "target": target})


@router.get("/pick/projects", name="pick_projects", dependencies=[READ])
def pick_projects(
    request: Request,
    session: ReadSession,
    target: TargetId = "dep-depends_on",
    q: SearchText = "",
    depends_on: SearchText = "",
    force_in: SearchText = "",
    force_out: SearchText = "",
    new_deadline_for: SearchText = "",
    mandatory: bool = False,
):
    """Suggest projects for a picker (the text comes as q or as the field's own name)."""
    text = q or depends_on or force_in or force_out or new_deadline_for
    items = dataset_pages.search_projects(session=session, q=text, mandatory_only=mandatory)
    return render_picks(request, items, text, target)


@router.get("/pick/datasets", name="pick_datasets", dependencies=[READ])
def pick_datasets(
    request: Request,
    session: ReadSession,
    target: TargetId = "ds-dataset",
    q: SearchText = "",
    dataset: SearchText = "",
):
    """Suggest datasets for a picker (the text comes as q or as the field's own name)."""
    text = q or dataset
    items = dataset_pages.search_datasets(session=session, q=text)
    return render_picks(request, items, text, target)


@router.get("/pick/organisations", name="pick_organisations", dependencies=[READ])
def pick_organisations(
    request: Request,
    session: ReadSession,
    target: TargetId = "pa-organisation",
    q: SearchText = "",
    organisation: SearchText = "",
):
    """Suggest organisations for a picker (the text comes as q or as the field's own name)."""
    text = q or organisation
    items = dataset_pages.search_organisations(session=session, q=text)
    return render_picks(request, items, text, target)
