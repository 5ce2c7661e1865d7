"""Pages: similar projects, the registration panel, collaboration opportunities and benefits."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import RedirectResponse

from portfolio.actors import Actor
from portfolio.capabilities import Capability, can
from portfolio.errors import Conflict, Invalid
from portfolio.services import benefits as benefit_service
from portfolio.services import collaboration as collaboration_service
from portfolio.services import filters as closed_lists
from portfolio.services import organisations as organisation_service
from portfolio.services import projects as project_service
from portfolio.services.common import project_by_slug
from web.pages_common import (
    AppDatabase,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    sentence,
)
from web.pages_projects import page_context, see_other
from web.routing import Router
from web.security import BENEFITS, DISMISS, EDIT, JOIN, READ, admits_anonymous
from web.templating import flash, render

router = Router(include_in_schema=False)
# The signed-in user, or None for an anonymous reader when public read lets them in.
Reader = Annotated[Actor | None, READ]

FILTER_LENGTH = 32
Filter = Annotated[str | None, Query(max_length=FILTER_LENGTH)]


# Declared before /projects/{slug}/similar so that "new" is never taken for a slug.
@router.post("/projects/new/similar", name="project_similar_draft", dependencies=[EDIT])
def similar_to_draft(request: Request, db: AppDatabase, form: FormData):
    """Answer the registration form's panel: existing projects like the one being typed."""
    found = collaboration_service.similar_to_draft(
        db, actor=getattr(request.state, "actor", None), data=form)
    return render(request, "_similar_panel.html", {"panel": found, "values": form},
                  block="results")


@router.get("/projects/{slug}/similar", name="project_similar", dependencies=[READ])
def similar_projects(request: Request, slug: str, db: AppDatabase):
    """Show the projects in other organisations most like this one, and why."""
    actor = getattr(request.state, "actor", None)
    found = collaboration_service.similar_projects(db, actor=actor, slug=slug)
    # Linked whenever /collaboration's policy (READ) lets this reader in, as the menu does: an
    # anonymous reader of a public portfolio too.
    found["collaboration_open"] = can(actor, Capability.READ) if actor else admits_anonymous(
        Capability.READ, public_read=request.app.state.settings.public_read)
    return render(request, "project_similar.html", found)


@router.post("/projects/{slug}/join", name="project_join", dependencies=[JOIN])
def join_project(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                 form: FormData):
    """Ask for the user's organisation (or the one chosen) to partner in this project."""
    organisation = form.get("organisation") or form.get("owner") or ""
    try:
        if "owner" in form and not organisation.strip():
            # The register form's panel, its owner not chosen yet: who would partner is unknown
            # (the user's own organisation, taken for "none named", may not be the owner).
            raise Invalid({"owner": "choose the organisation that will own your project first: "
                                    "it is the one that partners"})
        joined = collaboration_service.join_project(
            session=session, actor=actor, slug=slug, data={"organisation": organisation})
    except Invalid as exc:
        session.rollback()
        if not request.headers.get("HX-Request"):
            # The project page's own form: the page again, with why at the top of its partners.
            context = page_context(request, session, slug, ranking=False, values={}, errors={},
                                   partner_request_error=sentence(
                                       "; ".join(exc.errors.values())))
            return render(request, "project.html", context, status_code=422)
        # htmx swaps only successful answers: the panel shows the message in place.
        return render(request, "_joined.html", {"joined": None, "errors": exc.errors})
    if request.headers.get("HX-Request"):
        return render(request, "_joined.html", {"joined": joined, "errors": {}})
    flash(request, f"{joined['organisation_name']} is now a partner."
          if joined["status"] == "partner" else
          f"{joined['organisation_name']} has asked to partner: it becomes a partner when a "
          f"lead of {joined['owner_name']} accepts.")
    return RedirectResponse(str(request.url_for("project", slug=slug)) + "#partner-requests",
                            status_code=303)


@router.post("/projects/{slug}/partner-requests/withdraw", name="partner_request_withdraw",
             dependencies=[JOIN])
def withdraw_partner_request(request: Request, slug: str, session: WriteSession,
                             actor: CurrentActor, form: FormData):
    """Withdraw an organisation's waiting request to partner in this project."""
    try:
        collaboration_service.withdraw_partner_request(
            session=session, actor=actor, slug=slug, organisation=form.get("organisation", ""))
    except (Conflict, Invalid) as exc:
        # Answered or withdrawn meanwhile (another tab, the owner), or no organisation named:
        # the page as it is now, and why.
        session.rollback()
        context = page_context(request, session, slug, ranking=False,
                               values={}, errors={},
                               partner_request_error=sentence(exc.message))
        return render(request, "project.html", context, status_code=exc.status_code)
    flash(request, "The request to partner is withdrawn.")
    return see_other(f"{request.url_for('project', slug=slug)}#partner-requests")


@router.get("/projects/{slug}/partner-requests/withdraw", name="partner_request_withdraw_back",
            dependencies=[READ])
def withdraw_back(request: Request, slug: str):
    """Send a GET of the withdraw form's action back to the project page the form is on."""
    return see_other(request.url_for("project", slug=slug))


def _collaboration_context(db: AppDatabase, session: ReadSession, actor: Any, theme: str | None,
                           organisation: str | None) -> dict[str, Any]:
    """Return what the collaboration page shows for its filters."""
    found = collaboration_service.opportunities(db, theme=theme or None,
                                                organisation=organisation or None, actor=actor)
    boroughs = organisation_service.list_organisations(session=session, kind="borough")
    return found | {"filters": {"theme": theme or "", "organisation": organisation or ""},
                    "boroughs": boroughs,
                    "dismissed": collaboration_service.dismissed(session=session)[:20]}


@router.get("/collaboration", name="collaboration_page", dependencies=[READ])
def collaboration(request: Request, db: AppDatabase, session: ReadSession, actor: Reader,
                  theme: Filter = None, organisation: Filter = None):
    """Show groups of alike projects in different organisations that could work together."""
    applied, filter_errors = closed_lists.sift(
        theme=(closed_lists.THEMES, theme),
        organisation=(closed_lists.organisations_named(session, organisation), organisation))
    # A value naming nothing is said beside its filter; the groups are shown without it.
    context = _collaboration_context(db, session, actor, applied["theme"],
                                     applied["organisation"])
    return render(request, "collaboration.html", context | {
        "errors": {}, "values": {}, "filter_errors": filter_errors}, block="groups",
        status_code=422 if filter_errors else 200)


@router.post("/collaboration/dismiss", name="collaboration_dismiss", dependencies=[DISMISS])
def dismiss(request: Request, db: AppDatabase, session: WriteSession, actor: CurrentActor,
            form: FormData):
    """Set a suggestion aside with a reason; it does not come back."""
    try:
        collaboration_service.dismiss(session=session, actor=actor,
                                      data={"group": form.get("group", ""),
                                            "reason": form.get("reason", "")})
    except (Invalid, Conflict) as exc:
        session.rollback()
        errors = exc.errors if isinstance(exc, Invalid) else {"reason": exc.message}
        context = _collaboration_context(db, session, actor, form.get("theme"),
                                         form.get("organisation"))
        return render(request, "collaboration.html", context | {
            "errors": errors, "values": form}, status_code=exc.status_code)
    # Back to the filters the page had; one the page could not have had is left out.
    query = {k: form[k] for k in ("theme", "organisation")
             if form.get(k) and len(form[k]) <= FILTER_LENGTH}
    url = request.url_for("collaboration_page").include_query_params(dismissed=1, **query)
    return RedirectResponse(str(url), status_code=303)


@router.get("/benefits", name="benefits", dependencies=[READ])
def benefits(request: Request, session: ReadSession):
    """Show realised benefits and how accurate each organisation's estimates were."""
    return render(request, "benefits.html", {
        "accuracy": benefit_service.estimate_accuracy(session=session),
        "realised": benefit_service.list_benefits(session=session)})


def _benefits_page(request: Request, session: ReadSession, slug: str, *, values: dict | None,
                   errors: dict, status_code: int = 200):
    """Render a project's benefits page with its form."""
    project = project_service.get_project(session=session, slug=slug)
    # Whose it is, so the page offers the form only to who may record (the service's rule).
    project["owner_id"] = project_by_slug(session, slug).owner_id
    found = benefit_service.get_benefits(session=session, slug=slug)
    if values is None:
        values = dict(found) if found else {}
    return render(request, "project_benefits.html", {
        "project": project, "benefits": found, "values": values, "errors": errors},
        status_code=status_code)


@router.get("/projects/{slug}/benefits", name="project_benefits", dependencies=[READ])
def project_benefits(request: Request, slug: str, session: ReadSession):
    """Show what a delivered project achieved against its estimate, and the lead's review."""
    return _benefits_page(request, session, slug, values=None, errors={})


# The benefits form's fields; a refusal of anything else (the project's status, the version
# read) is the form's, said in its summary.
BENEFIT_FIELDS = ("people_reached", "savings_gbp", "outcome", "review", "measured_on")
STALE_BENEFITS = ("Someone recorded these benefits meanwhile; their figures are shown above, "
                  "and yours are kept in the form: save again to replace theirs.")


@router.post("/projects/{slug}/benefits", name="project_benefits_record",
             dependencies=[BENEFITS])
def record_benefits(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                    form: FormData):
    """Record a delivered project's realised benefits, or show the form again with errors."""
    data: dict[str, Any] = {}
    for name in (*BENEFIT_FIELDS, "version"):
        raw = (form.get(name) or "").strip()
        if name in ("people_reached", "savings_gbp"):
            raw = raw.replace(",", "").replace("£", "").replace(" ", "")
        if raw != "" or name in ("outcome", "measured_on"):
            data[name] = raw if raw != "" else None
    try:
        benefit_service.record_benefits(session=session, actor=actor, slug=slug, data=data,
                                        require_version=True)
    except (Invalid, Conflict) as exc:
        session.rollback()
        errors: dict[str, str] = {} if isinstance(exc, Invalid) else {"form": STALE_BENEFITS}
        for name, message in (exc.errors.items() if isinstance(exc, Invalid) else ()):
            where = name if name in BENEFIT_FIELDS else "form"
            errors[where] = f"{errors[where]} {message}" if where in errors else message
        # After a conflict the form carries the version now saved: saving again is a choice.
        values = (dict(form) if isinstance(exc, Invalid)
                  else dict(form) | {"version": str(exc.current["version"])})
        return _benefits_page(request, session, slug, values=values, errors=errors,
                              status_code=422 if isinstance(exc, Invalid) else 409)
    return RedirectResponse(str(request.url_for("project_benefits", slug=slug)),
                            status_code=303)
