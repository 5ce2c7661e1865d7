"""Archive a closed project, or restore it: a form post that redirects back to the project."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from portfolio.services import workflow
from portfolio.text import whole_number
from web.pages_common import CurrentActor, FormData, WriteSession
from web.routing import Router
from web.security import EDIT, relative
from web.templating import flash

router = Router(include_in_schema=False)


@router.post("/projects/{slug}/archive", name="project_archive", dependencies=[EDIT])
def archive_project(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                    form: FormData):
    """Archive or restore a project, then show it with a confirmation."""
    archived = form.get("archived", "true") != "false"
    version = form.get("version", "")
    workflow.archive(session=session, actor=actor, slug=slug, archived=archived,
                     version=whole_number(version))
    flash(request, "The project is archived: it has left the lists and the ranking."
          if archived else "The project is restored to the lists.")
    # Post/Redirect/Get, to a relative Location (a Host header never names where to go).
    return RedirectResponse(relative(request.url_for("project", slug=slug)), status_code=303)
