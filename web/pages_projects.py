"""Pages to register, edit and review a project."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from portfolio.capabilities import Capability
from portfolio.errors import Conflict, Invalid, NotAllowed, NotFound, Unrankable
from portfolio.schemas import Input, ProjectCreate, ProjectUpdate, parse
from portfolio.services import organisations as organisation_service
from portfolio.services import overrides as override_service
from portfolio.services import project_pages, workflow
from portfolio.services import projects as project_service
from portfolio.services import ranking as ranking_service
from portfolio.services import reviews as review_service
from portfolio.text import whole_number
from web.deps import seen_revision
from web.pages_attachments import project_attachments
from web.pages_common import (
    CHECKBOXES,
    CHOICES,
    AppDatabase,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    apply_choices,
    changed_fields,
    field_label,
    input_from_form,
    label,
    organisations_by_name,
    sentence,
)
from web.pages_together import together_context
from web.routing import Router
from web.security import DECIDE, EDIT, OVERRIDE, READ, REGISTER, relative
from web.templating import flash, render

router = Router()

# Fields whose rules read another field: checking one re-checks the other too.
RELATED_FIELDS = {
    "start_date": ("end_date",),
    "end_date": ("start_date",),
    "mandatory": ("mandatory_justification",),
    "mandatory_justification": ("mandatory",),
    "personal_data": ("dpia_status",),
    "dpia_status": ("personal_data",),
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
):
    """Render the edit page, keeping whatever the user typed into the form that failed.

    Only someone who may edit the project is shown it (a save refused to anyone else is
    answered by the refusal's page, with what was typed: web.app.page_refusal).
    """
    actor = getattr(request.state, "actor", None)
    context = project_pages.project_editor(session=session, slug=slug, actor=actor)
    saved = project_values(context["project"])
    context["values"] = values if values is not None else saved
    # The values the form started from: a save sends only what the user changed from them.
    # A form shown again keeps the values it started from, so the user's edits still count.
    started = {k: v for k, v in (values or {}).items() if k.startswith("was_")}
    context.setdefault("was", started or {f"was_{k}": v for k, v in saved.items()
                                          if k != "version"})
    context["status_options"] = status_options(request, context["project"])
    context.setdefault("errors", {})
    context.setdefault("forms", {})
    context.setdefault("conflict", None)
    context.setdefault("notice", None)
    context.update(extra)
    return render(request, "project_edit.html", context, status_code=status_code)


def status_options(request: Request, project: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Return the statuses the edit or register form may offer this user, with their labels."""
    actor = getattr(request.state, "actor", None)
    allowed = workflow.status_choices(actor, project, project["status"] if project else None)
    return [(value, text) for value, text in CHOICES["status"] if value in allowed]


def new_project_context(request: Request, session: Session, values: Any,
                        errors: dict[str, str]) -> dict[str, Any]:
    """Return what the register form shows: a lead may register only for their organisation."""
    organisations = organisation_service.organisations_for(
        session=session, actor=getattr(request.state, "actor", None),
        capability=Capability.REGISTER_PROJECT)
    if len(organisations) == 1 and not values.get("owner"):
        values = dict(values) | {"owner": organisations[0]["code"]}
    return {"organisations": organisations, "values": values, "errors": errors,
            "status_options": status_options(request, None), "was": {}}


@router.get("/projects/new", name="project_new", dependencies=[REGISTER])
def new_project(request: Request, session: ReadSession):
    """Show the form to register a project."""
    context = new_project_context(request, session, NEW_PROJECT_DEFAULTS, {})
    return render(request, "project_new.html", context)


@router.post("/projects/new", name="project_register", dependencies=[REGISTER])
def register_project(request: Request, session: WriteSession, actor: CurrentActor, form: FormData):
    """Register a project, or show the form again with a message by each wrong field."""
    data = input_from_form(form, ProjectCreate)
    try:
        created = project_service.create_project(session=session, actor=actor, data=data)
    except Invalid as exc:
        session.rollback()
        context = new_project_context(request, session, form, exc.errors)
        return render(request, "project_new.html", context, status_code=422)
    except NotAllowed as exc:
        # Refused for this owner or status: the form comes back as typed, the reason by the field.
        session.rollback()
        field = "status" if isinstance(exc, workflow.TransitionRefused) else "owner"
        context = new_project_context(request, session, form, {field: sentence(exc.message)})
        return render(request, "project_new.html", context, status_code=403)
    # The editor's notice confirms it (at its own URL, so a reload says it again harmlessly).
    url = request.url_for("project_edit", slug=created["slug"]).include_query_params(created=1)
    return see_other(url)


@router.post("/projects/validate", name="project_validate", dependencies=[EDIT])
def validate_project(
    request: Request,
    form: FormData,
    session: ReadSession,
    field: Annotated[str, Query(pattern=r"^[a-z_]{1,40}$")],
):
    """Check a project form as it is filled in; answer the message for one field (and its kin)."""
    model = ProjectUpdate if "version" in form else ProjectCreate
    related = [name for name in RELATED_FIELDS.get(field, ()) if name in model.model_fields]
    data = input_from_form(form, model)
    errors = check_fields(model, data, [field, *related])
    if field == "slug" and model is ProjectCreate and "slug" not in errors and data.get("slug"):
        # As submitting says it: the one rule on a short name that needs the portfolio.
        if taken := project_service.slug_problem(session, data["slug"]):
            errors["slug"] = taken
    context = {"field": field, "errors": errors, "related": related}
    return render(request, "_field_errors.html", context)


# Valid stand-ins for required fields not filled in yet: rules across fields only run once
# every field is valid, and a half-filled form should still hear about them.
STAND_INS = {"slug": "stand-in", "title": "stand-in", "owner": "STAND-IN", "theme": "housing"}


def check_fields(model: type[Input], data: dict[str, Any], wanted: list[str]) -> dict[str, str]:
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


def page_context(request: Request, session: Session, slug: str, **extra: Any) -> dict[str, Any]:
    """Return what the project page shows this user: the project, its moves and history."""
    context = project_pages.project_page(session=session, slug=slug)
    project = context["project"]
    actor = getattr(request.state, "actor", None)
    context["moves"] = workflow.allowed_moves(actor, project, project["status"])
    context.setdefault("from_queue", False)
    context.setdefault("override_errors", {})
    context.setdefault("move_errors", {})
    context["attachments"] = project_attachments(session, actor, slug)
    context |= together_context(session, actor, slug, request.app.state.settings)
    return context | extra


@router.get("/projects/{slug}", name="project", dependencies=[READ])
def project_page(request: Request, slug: str, db: AppDatabase,
                 queue: Annotated[int | None, Query()] = None):
    """Show one project with its score, links, assessments, review panel and history."""
    with db.read() as session:
        context = page_context(request, session, slug, from_queue=bool(queue))
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
):
    """Show the form to edit a project, its links and its assessment."""
    notice = (
        "The project is registered. Now add its dependencies, datasets and partners, and assess it."
        if created
        else None
    )
    return render_editor(request, session, slug, notice=notice)


# The fields the edit form sends, in the service's terms.
EDIT_FIELDS = ("owner", *project_service.PROJECT_FIELDS)


def changed_in_form(form: dict[str, str]) -> list[str]:
    """Return the project fields the user changed from the values the form started from."""
    return changed_fields(form, EDIT_FIELDS)


@router.post("/projects/{slug}/edit", name="project_update", dependencies=[EDIT])
def update_project(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Save the fields the user changed; a stale edit is merged field by field with the saved one.

    Only a field both people changed differently is shown as a conflict, with both values.
    """
    form = dict(form)
    choices, unchosen = apply_choices(form, EDIT_FIELDS)
    if unchosen:
        errors = {name: "Choose whether to keep the saved value or yours." for name in unchosen}
        return render_editor(request, session, slug, status_code=422, values=form,
                             errors=errors, conflict=conflict_from_form(session, form, choices))
    parsed = input_from_form(form, ProjectUpdate)
    reason = {"status_reason": form["status_reason"]} if form.get("status_reason") else {}
    try:
        if not any(key.startswith("was_") for key in form):
            # A form without the values it started from replaces the project, as PUT does.
            done = project_service.update_project(session=session, actor=actor, slug=slug,
                                                  data=parsed | reason)
            saved = done | {"applied": None, "kept": []}
        else:
            data = {name: parsed.get(name, "") for name in changed_in_form(form)}
            data |= {"version": form.get("version", "")} | reason
            saved = project_service.patch_project(session=session, actor=actor, slug=slug,
                                                  data=data)
    except Conflict as exc:
        session.rollback()
        return conflict_page(request, session, slug, form, exc)
    except Invalid as exc:
        session.rollback()
        return refused_page(request, session, slug, form, exc)
    except workflow.TransitionRefused as exc:
        # A refused status change keeps everything typed, with the refusal by the status.
        session.rollback()
        return render_editor(request, session, slug, status_code=403, values=form,
                             errors={"status": sentence(exc.message)})
    except NotAllowed as exc:
        session.rollback()
        if not project_pages.may_edit(session=session, slug=slug, actor=actor):
            # No longer theirs (moved to another organisation): the refusal's page keeps what
            # was typed, to copy, without offering the editor's other controls (web.app).
            raise
        # Theirs, but not to give away: everything typed stays, the refusal by the owner.
        field = "owner" if "owner" in changed_in_form(form) else "form"
        return render_editor(request, session, slug, status_code=403, values=form,
                             errors={field: sentence(exc.message)})
    flash(request, saved_message(saved))
    return see_other(request.url_for("project", slug=slug))


def saved_message(saved: dict[str, Any]) -> str:
    """Say what a save did, in words."""
    if saved["applied"] is None:
        return "Your changes are saved."
    if not saved["applied"]:
        return "Nothing to save: you changed nothing."
    fields = ", ".join(field_label(f).lower() for f in saved["applied"])
    text = f"Saved your changes to {fields}."
    if saved["kept"]:
        kept = ", ".join(field_label(f).lower() for f in saved["kept"])
        text += f" Someone else changed {kept} meanwhile: their changes are kept."
    return text


def conflict_from_form(session: Session, form: dict[str, str],
                       names: list[str]) -> dict[str, Any]:
    """Rebuild the conflict table from a resubmitted form that left a choice open."""
    rows = organisations_by_name(session, "owner", [
        {"field": n, "now": form.get(f"was_{n}", ""), "yours": form.get(n, "")} for n in names])
    return {"message": "you both changed these fields", "changed": rows,
            "names": ",".join(names)}


def mine_over_saved(saved: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """Return the saved version's values with the fields the user changed as they typed them."""
    values = dict(saved)
    for name in changed_in_form(form):
        if name in CHECKBOXES:
            values[name] = "on" if form.get(name, "") not in ("", "false", "off") else ""
        else:
            values[name] = form.get(name, "")
    # The reason for a status change is the form's own, not the project's: kept as typed.
    values["status_reason"] = form.get("status_reason", "")
    return values


def refused_page(request: Request, session: Session, slug: str, form: dict[str, str],
                 exc: Invalid):
    """Show a refused save again with the errors, everything typed kept.

    A stale form's changes were checked over the saved version (a date against a colleague's
    later one, say): it is shown as that version with the user's changes, so that the errors
    agree with what the form shows and saving again starts from it.
    """
    saved = project_values(project_pages.project_editor(session=session, slug=slug)["project"])
    stale = (any(key.startswith("was_") for key in form)
             and form.get("version", "") != str(saved["version"]))
    if not stale:
        return render_editor(request, session, slug, status_code=422, values=form,
                             errors=exc.errors)
    return render_editor(
        request, session, slug, status_code=422, errors=exc.errors,
        values=mine_over_saved(saved, form),
        was={f"was_{k}": v for k, v in saved.items() if k != "version"},
        notice="The project was changed by someone else since you opened it: the form shows "
               "their saved values with your changes over them.")


def conflict_page(
    request: Request, session: Session, slug: str, form: dict[str, str], exc: Conflict
):
    """Show only the fields both people changed, with both values, for the user to choose.

    The form holds the saved version with the user's other changes applied; it starts from the
    saved version, so saving again sends only the user's changes and their choices.
    """
    context = project_pages.project_editor(session=session, slug=slug)
    context["organisations"] = organisation_service.organisations_for(
        session=session, actor=getattr(request.state, "actor", None),
        capability=Capability.EDIT_PROJECT)
    saved = project_values(context["project"])
    # Without the values the form started from, every field changed meanwhile is shown.
    names = [n for n in (exc.conflicts or exc.changed)
             if n not in ("slug", "updated_at", "created_at", "version")]
    values = mine_over_saved(saved, form)
    rows = []
    for name in names:
        now = saved.get(name)
        yours: Any = values.get(name)
        if name in CHECKBOXES:
            now, yours = bool(now), bool(yours)
        rows.append({"field": name, "now": now, "yours": yours})
    rows = organisations_by_name(session, "owner", rows)
    conflict = {"message": exc.message, "changed": rows, "names": ",".join(names)}
    context |= {"values": values, "errors": {}, "forms": {}, "conflict": conflict,
                "notice": None, "was": {f"was_{k}": v for k, v in saved.items() if k != "version"},
                "status_options": status_options(request, context["project"])}
    return render(request, "project_edit.html", context, status_code=409)


@router.post("/projects/{slug}/status", name="project_move", dependencies=[EDIT])
def move_project(
    request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData
):
    """Move a project along the workflow (submit, withdraw, start, pause, resume, deliver)."""
    version = form.get("version", "")
    try:
        workflow.move(session=session, actor=actor, slug=slug, to=form.get("to", ""),
                      reason=form.get("status_reason", ""), version=whole_number(version))
    except (Invalid, Conflict) as exc:
        # The project page again, as it is now, with the reason typed kept: a refusal of the
        # reason is said by its field, any other (a change meanwhile) for the whole form.
        session.rollback()
        messages = exc.errors if isinstance(exc, Invalid) else {"form": exc.message}
        errors: dict[str, str] = {}
        for name, message in messages.items():
            if name == "status_reason":
                errors[name] = message
            else:
                errors["form"] = " ".join(filter(None, (errors.get("form"), sentence(message))))
        context = page_context(request, session, slug, ranking=False, values={}, errors={},
                               move_errors=errors, move_values=form)
        return render(request, "project.html", context, status_code=exc.status_code)
    flash(request, f"The project is now {label(form.get('to', '')).lower()}.")
    return see_other(request.url_for("project", slug=slug))


@router.post("/projects/{slug}/answer", name="project_answer", dependencies=[EDIT])
def answer(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
           form: FormData):
    """Record the lead's answer to the reviewer's question."""
    try:
        review_service.answer_question(session=session, actor=actor, slug=slug,
                                       answer=form.get("answer", ""))
    except Invalid as exc:
        session.rollback()
        context = page_context(request, session, slug, values=form, errors=exc.errors,
                               ranking=False)
        return render(request, "project.html", context, status_code=422)
    flash(request, "Your answer is sent: the project is back in the review queue.")
    return see_other(request.url_for("project", slug=slug))


@router.post("/projects/{slug}/override", name="project_override", dependencies=[OVERRIDE])
def override(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
             form: FormData):
    """Set or clear a manual priority override (CDO or admin) with its justification."""
    fields = ("value", "justification", "expires_on")
    # The override the form started from; a form without it replaces what is stored.
    was = {k: form.get(f"was_{k}", "") for k in fields} if "was_value" in form else None
    try:
        if form.get("clear"):
            override_service.clear_override(session=session, actor=actor, slug=slug,
                                            justification=form.get("justification", ""),
                                            was=was)
            message = "The priority override is cleared."
        else:
            override_service.set_override(session=session, actor=actor, slug=slug, data={
                k: form.get(k, "") for k in fields}, was=was)
            message = "The priority override is set: the backlog is being re-ranked."
    except Invalid as exc:
        session.rollback()
        context = page_context(request, session, slug, values=form, errors={},
                               ranking=False, override_errors=exc.errors)
        return render(request, "project.html", context, status_code=422)
    except Conflict as exc:
        # What was typed stays in the form beside the override set meanwhile; the form now
        # starts from that one, so sending it again replaces (or clears) it knowingly.
        session.rollback()
        now = exc.current
        theirs = (f"{now['value']:g} by {now['by']}: “{now['justification']}”"
                  if now.get("value") is not None else "nothing (cleared)")
        context = page_context(request, session, slug, values=form, errors={}, ranking=False,
                               override_errors={"value": (
                                   f"Changed meanwhile by someone else to {theirs}. Yours is "
                                   "kept here: send it again to replace theirs.")})
        return render(request, "project.html", context, status_code=409)
    flash(request, message)
    return see_other(request.url_for("project", slug=slug))


@router.post("/projects/{slug}/decision", name="project_decide", dependencies=[DECIDE])
def decide(request: Request, slug: str, session: WriteSession, actor: CurrentActor, form: FormData):
    """Record a review decision with its rationale, then go to the next project in the queue."""
    try:
        review_service.decide(
            session=session,
            actor=actor,
            slug=slug,
            decision=form.get("decision", ""),
            rationale=form.get("rationale", ""),
            version=whole_number(form.get("version", "")),
            read=form.get("read"),
        )
    except (Invalid, Conflict) as exc:
        session.rollback()
        errors = _decision_errors(exc)
        # The score section is left out: this request holds the write lock a ranking needs.
        context = page_context(request, session, slug, values=form, errors=errors,
                               ranking=False, from_queue=bool(form.get("queue")))
        return render(request, "project.html", context,
                      status_code=422 if isinstance(exc, Invalid) else 409)
    recorded = f"Decision recorded: {label(form.get('decision', '')).lower()}."
    if form.get("queue"):
        following = review_service.next_in_queue(session=session, after=slug)
        if following is None:
            flash(request, f"{recorded} The review queue is empty.")
            return see_other(request.url_for("reviews"))
        flash(request, f"{recorded} Next in the review queue:")
        return see_other(f"{request.url_for('project', slug=following)}?queue=1#review")
    flash(request, recorded)
    return see_other(str(request.url_for("project", slug=slug)) + "#review")


def _decision_errors(exc: Invalid | Conflict) -> dict[str, str]:
    """Return a refused decision's messages by the review form's two fields."""
    if isinstance(exc, Conflict):
        kept = ("Your decision is kept here: record it again to decide on the project as it "
                "is now.")
        if not exc.changed:  # its review moved on, or it changed in no field shown
            return {"decision": f"{sentence(exc.message)} Look at it again above. {kept}"}
        what = ", ".join(field_label(k).lower() for k in exc.changed)
        return {"decision": f"The project was changed since this page showed it ({what}): "
                            f"look at it again above. {kept}"}
    # Any other field's refusal (the project archived meanwhile) is said by the decision.
    errors = {k: v for k, v in exc.errors.items() if k == "rationale"}
    others = [sentence(v) for k, v in exc.errors.items() if k != "rationale"]
    if others:
        errors["decision"] = " ".join(others)
    return errors


# Form actions that only take POST: a reload or a shared link of one goes back to its page.
def _back(request: Request, slug: str):
    """Send a GET of a form action back to the project page the form is on."""
    return see_other(request.url_for("project", slug=slug))


for _path in ("/projects/{slug}/decision", "/projects/{slug}/status",
              "/projects/{slug}/answer", "/projects/{slug}/override"):
    router.add_api_route(_path, _back, methods=["GET"], dependencies=[READ],
                         name=f"{_path.rsplit('/', 1)[1]}_back", include_in_schema=False)
