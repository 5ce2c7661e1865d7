"""Pages: a project's owner and progress, its discussion, watching, and notifications."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from jinja2 import pass_context
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.errors import Conflict, Invalid
from portfolio.services import comments as comment_service
from portfolio.services import notifications as notification_service
from portfolio.services import progress as progress_service
from portfolio.services import watching as watch_service
from portfolio.services.common import project_by_slug
from portfolio.text import whole_number
from web.pages_common import (
    AppDatabase,
    CurrentActor,
    FormData,
    ReadSession,
    WriteSession,
    sentence,
)
from web.routing import Router
from web.security import COMMENT, EDIT, PROGRESS, PUBLIC, READ, WATCH, RowId, session_read
from web.templating import flash, is_htmx_partial, render, templates

router = Router(include_in_schema=False)


def together_context(session: Session, actor: Actor | None, slug: str, settings: Any,
                     **extra: Any) -> dict[str, Any]:
    """Return what the project page's 'working together' sections show this reader."""
    project = project_by_slug(session, slug)
    about = {"id": project.id, "slug": project.slug, "owner_id": project.owner_id,
             "status": project.status}
    together = progress_service.project_progress(
        session, project.id, actor=actor, stale_days=settings.progress_stale_days)  # type: ignore[arg-type]
    together |= {
        "project": about,
        "committed": project.status in progress_service.COMMITTED_STATUSES,
        "watching": watch_service.is_watching(session, actor, project),
        "comments": comment_service.discussion(session, project.id, actor,  # type: ignore[arg-type]
                                               edit_minutes=settings.comment_edit_minutes),
        "stale_days": settings.progress_stale_days,
        "edit_minutes": settings.comment_edit_minutes,
        "max_chars": settings.comment_max_chars,
        "field_errors": {}, "field_values": {},
    }
    return {"together": together | extra}


def _project_page(request: Request, db: AppDatabase, slug: str, *, errors: dict[str, str],
                  values: dict[str, str], status_code: int = 422):
    """Render the project page again with a working-together form's errors beside its fields."""
    from web.pages_projects import page_context  # the project page is that module's

    with db.read() as session:
        context = page_context(request, session, slug)
        context |= together_context(session, getattr(request.state, "actor", None), slug,
                                    db.settings, field_errors=errors, field_values=values)
    return render(request, "project.html", context | {
        "values": {}, "errors": {}, "ranking": False, "ranking_error": None},
        status_code=status_code)


def _back(request: Request, slug: str, anchor: str) -> RedirectResponse:
    """Post/Redirect/Get back to a section of the project page."""
    return RedirectResponse(str(request.url_for("project", slug=slug)) + f"#{anchor}",
                            status_code=303)


@router.post("/projects/{slug}/stewardship", name="project_stewardship", dependencies=[EDIT])
def set_stewardship(request: Request, slug: str, db: AppDatabase, actor: CurrentActor,
                    form: FormData):
    """Name the project's owner and public contact; a stale form is merged field by field."""
    try:
        # The form carries the values it started from (was_NAME); without them, both replace.
        fields = progress_service.STEWARDSHIP_FIELDS
        was = ({k: form[f"was_{k}"] for k in fields}
               if all(f"was_{k}" in form for k in fields) else None)
        with db.write() as session:
            progress_service.set_stewardship(session=session, actor=actor, slug=slug,
                                             data=form, was=was)
    except Invalid as exc:
        return _project_page(request, db, slug, errors=exc.errors, values=form)
    except Conflict as exc:
        # Only the fields both changed come back: theirs beside each, the rest merged.
        saved = exc.current
        mine = {k: form.get(k, "") for k in exc.conflicts}
        errors = {k: f"Changed meanwhile by someone else to “{saved[k] or 'nothing'}”. Yours "
                     "is kept here: save again to replace theirs." for k in mine}
        values = saved | mine | {f"was_{k}": v for k, v in saved.items()}
        return _project_page(request, db, slug, errors=errors, values=values, status_code=409)
    flash(request, "The owner and contact are saved.")
    return _back(request, slug, "owner-progress")


@router.post("/projects/{slug}/progress", name="record_progress", dependencies=[PROGRESS])
def report_progress(request: Request, slug: str, db: AppDatabase, actor: CurrentActor,
                    form: FormData):
    """Add a dated RAG status and progress update."""
    try:
        with db.write() as session:
            progress_service.report_progress(session=session, actor=actor, slug=slug, data=form)
    except Invalid as exc:
        return _project_page(request, db, slug, errors=exc.errors, values=form)
    flash(request, "The progress update is saved.")
    return _back(request, slug, "owner-progress")


@router.post("/projects/{slug}/watch", name="project_watch", dependencies=[WATCH])
def watch(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
          form: FormData):
    """Watch or stop watching the project."""
    watching = form.get("watching") == "1"
    watch_service.set_watching(session=session, actor=actor, slug=slug, watching=watching)
    if is_htmx_partial(request):
        return render(request, "_watch_button.html",
                      {"together": {"project": {"slug": slug}, "watching": watching}})
    flash(request, "You are watching this project." if watching
          else "You no longer watch this project.")
    return _back(request, slug, "discussion")


def _discussion(request: Request, db: AppDatabase, slug: str, *, errors: dict[str, str],
                values: dict[str, str], status_code: int = 200, said: str | None = None):
    """Answer an htmx post with the discussion as it now stands, and what happened (`said`).

    Marked fresh: the page's script then focuses a field in error, else the refusal, else
    the confirmation, so a keyboard user stays in the discussion.
    """
    with db.read() as session:
        context = together_context(session, getattr(request.state, "actor", None), slug,
                                   db.settings, field_errors=errors, field_values=values)
    return render(request, "_discussion.html", {**context, "fresh": True, "said": said},
                  status_code=status_code)


@router.post("/projects/{slug}/comments", name="comment_post", dependencies=[COMMENT])
def post_comment(request: Request, slug: str, db: AppDatabase, actor: CurrentActor,
                 form: FormData):
    """Add a comment; htmx swaps the discussion in place, a plain post comes back to the page."""
    try:
        with db.write() as session:
            comment_service.post_comment(session=session, actor=actor, slug=slug,
                                         body=form.get("body", ""),
                                         max_chars=db.settings.comment_max_chars)
    except Invalid as exc:
        if is_htmx_partial(request):
            # htmx swaps only successful answers: the form shows its message in place.
            return _discussion(request, db, slug, errors=exc.errors, values=form)
        return _project_page(request, db, slug, errors=exc.errors, values=form)
    if is_htmx_partial(request):
        return _discussion(request, db, slug, errors={}, values={},
                           said="Your comment is posted.")
    flash(request, "Your comment is posted.")
    return _back(request, slug, "discussion")


# A comment form's hidden edit time that the service could not read: not mended by hand.
UNREADABLE_EDIT_TIME = ("This page's copy of the comment could not be read: reload the page, "
                        "then try again.")


@router.post("/projects/{slug}/comments/{comment_id}/edit", name="comment_edit",
             dependencies=[COMMENT])
def edit_comment(request: Request, slug: str, comment_id: RowId, db: AppDatabase,
                 actor: CurrentActor, form: FormData):
    """Change one's own comment within the edit window; a refused edit keeps the text typed."""
    typed, field = form.get("body", ""), f"edit_{comment_id}"
    try:
        with db.write() as session:
            comment_service.edit_comment(session=session, actor=actor, comment_id=comment_id,
                                         body=typed, max_chars=db.settings.comment_max_chars,
                                         edit_minutes=db.settings.comment_edit_minutes,
                                         slug=slug, was_edited_at=form.get("was_edited_at"))
    except Conflict:
        # Saved meanwhile from another tab: the newer text shows above the form, which keeps
        # what was typed and now carries the newer edit time, so saving again is a choice.
        errors = {field: "This comment was changed since you opened this page (perhaps in "
                         "another tab); it now reads as shown above. Your text is kept here: "
                         "save it again to replace that, or change it first."}
        values, status = {field: typed}, 409
    except comment_service.EditWindowClosed as exc:
        # The window closed while the author typed: the text waits in the new comment's box.
        errors, values, status = {field: sentence(exc.message)}, {"body": typed}, 403
    except comment_service.CommentRemoved as exc:
        if is_htmx_partial(request):
            raise  # htmx shows the refusal in the edit form itself, the text still in it
        errors, values, status = {field: sentence(exc.message)}, {"body": typed}, 404
    except Invalid as exc:
        # Else the form's hidden edit time was unreadable: nothing the author can mend by hand.
        errors = {field: exc.errors.get("body", UNREADABLE_EDIT_TIME + " Your text is kept here.")}
        values, status = {field: typed}, 422
    else:
        if is_htmx_partial(request):
            return _discussion(request, db, slug, errors={}, values={},
                               said="Your comment is changed.")
        flash(request, "Your comment is changed.")
        return _back(request, slug, "discussion")
    if is_htmx_partial(request):
        # htmx swaps only successful answers: the discussion shows the refusal in place.
        return _discussion(request, db, slug, errors=errors, values=values)
    return _project_page(request, db, slug, errors=errors, values=values, status_code=status)


@router.post("/projects/{slug}/comments/{comment_id}/remove", name="comment_remove",
             dependencies=[COMMENT])
def remove_comment(request: Request, slug: str, comment_id: RowId, db: AppDatabase,
                   actor: CurrentActor, form: FormData):
    """Remove one's own comment, or moderate another's (CDO or admin), as it was read."""
    try:
        with db.write() as session:
            comment_service.remove_comment(session=session, actor=actor, comment_id=comment_id,
                                           edit_minutes=db.settings.comment_edit_minutes,
                                           slug=slug, was_edited_at=form.get("was_edited_at"))
    except (Conflict, Invalid) as exc:
        # Edited meanwhile: kept, shown as it is now with why, its form carrying the new edit.
        errors = {f"remove_{comment_id}": (UNREADABLE_EDIT_TIME if isinstance(exc, Invalid)
                                           else sentence(exc.message))}
        if is_htmx_partial(request):
            return _discussion(request, db, slug, errors=errors, values={})
        return _project_page(request, db, slug, errors=errors, values={},
                             status_code=exc.status_code)
    if is_htmx_partial(request):
        return _discussion(request, db, slug, errors={}, values={},
                           said="The comment is removed.")
    flash(request, "The comment is removed.")
    return _back(request, slug, "discussion")


@router.get("/notifications", name="notifications", dependencies=[READ])
def notifications_page(request: Request, session: ReadSession,
                       actor: CurrentActor):
    """List the user's notifications, newest first."""
    items = notification_service.notifications_of(session, actor.id)  # type: ignore[arg-type]
    return render(request, "notifications.html", {
        "items": items, "unread": sum(not i["read"] for i in items)})


@router.post("/notifications/read", name="notifications_read", dependencies=[READ])
def notifications_read(request: Request, session: WriteSession, actor: CurrentActor,
                       form: FormData):
    """Mark one notification, or all, read."""
    one = form.get("id", "").strip()
    number = whole_number(one)
    # No id is "mark all"; an id that is no number names none (never all of them).
    ids = None if not one else [number] if number is not None else []
    count = (notification_service.mark_read(session=session, actor=actor, ids=ids)
             if ids != [] else 0)
    flash(request, f"{count} notification{'' if count == 1 else 's'} marked read.")
    # Back to the one marked (its confirmation shown there), not to the top of a long list.
    at = f"#n-{number}" if ids and count else ""
    return RedirectResponse(str(request.url_for("notifications")) + at, status_code=303)


@router.post("/account/notifications", name="notification_preferences", dependencies=[READ])
def notification_preferences(request: Request, session: WriteSession, actor: CurrentActor,
                             form: FormData):
    """Choose how to hear of each kind of notification; only the kinds changed are written.

    A kind turned off meanwhile (an email's unsubscribe link, another tab) stays off unless
    this form changed that kind itself.
    """
    choices = {kind: form.get(f"pref_{kind}", "")
               for kind in notification_service.KINDS if f"pref_{kind}" in form
               and form.get(f"pref_{kind}") != form.get(f"was_pref_{kind}")}
    notification_service.set_preferences(session=session, user_id=actor.id,  # type: ignore[arg-type]
                                         choices=choices)
    flash(request, "Your notification choices are saved.")
    return RedirectResponse(str(request.url_for("account")) + "#notification-choices",
                            status_code=303)


@router.get("/notifications/unsubscribe", name="unsubscribe", dependencies=[PUBLIC])
def unsubscribe_page(request: Request, token: str = ""):
    """Ask to confirm stopping a kind of email (a GET changes nothing: scanners follow links)."""
    settings = request.app.state.settings
    try:
        _user, kind = notification_service.read_unsubscribe_token(settings, token)
    except Invalid as exc:
        return render(request, "unsubscribe.html", {"error": exc.errors["token"]},
                      status_code=400)
    words = notification_service.KINDS.get(kind, ("Your daily digest", ""))[0]
    return render(request, "unsubscribe.html", {"token": token, "kind": words, "done": None})


@router.post("/notifications/unsubscribe", name="unsubscribe_confirm", dependencies=[PUBLIC])
def unsubscribe_confirm(request: Request, session: WriteSession,
                        form: FormData):
    """Stop the kind of email the link names."""
    try:
        done = notification_service.unsubscribe(session=session,
                                                settings=request.app.state.settings,
                                                token=form.get("token", ""))
    except Invalid as exc:
        return render(request, "unsubscribe.html", {"error": exc.errors["token"]},
                      status_code=400)
    return render(request, "unsubscribe.html", {"done": done["kinds"], "kind": done["asked"]})


@pass_context
def unread_notifications(context: Any) -> int:
    """Return the signed-in reader's unread count for the header's bell."""
    actor = context.get("actor")
    request = context.get("request")
    if actor is None or actor.id is None or request is None:
        return 0
    read = session_read(request)
    if read is not None and read.actor.id == actor.id:
        return read.unread
    with request.app.state.database.connect() as connection:
        return notification_service.unread_count(connection, actor.id)


@pass_context
def notification_choices(context: Any) -> dict[str, Any]:
    """Return the account page's notification choices for the signed-in reader."""
    actor = context.get("actor")
    with context["request"].app.state.database.read() as session:
        current = notification_service.preferences(session, actor.id if actor else None)
    return {"kinds": notification_service.KINDS, "channels": notification_service.CHANNELS,
            "current": current}


def rag_summary(db: AppDatabase) -> dict[str, Any]:
    """Return the dashboard's count of committed projects by RAG status."""
    return progress_service.kept_rag_summary(db)


def committed_progress(db: AppDatabase, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the latest progress of a backlog page's committed projects, in its order."""
    from sqlalchemy import select

    from portfolio.models import Project

    slugs = [r["slug"] for r in rows]
    if not slugs:
        return []
    with db.read() as session:
        ids = dict(session.execute(select(col(Project.slug), col(Project.id))
                                   .where(col(Project.slug).in_(slugs))).all())
        latest = progress_service.latest_progress(session, ids.values(),
                                                  stale_days=db.settings.progress_stale_days)
    return [{"slug": r["slug"], "title": r["title"], **latest[ids[r["slug"]]]}
            for r in rows if r["slug"] in ids and ids[r["slug"]] in latest]


templates.env.globals.update(unread_notifications=unread_notifications,
                             notification_choices=notification_choices)
