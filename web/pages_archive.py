"""Archive a closed project, or restore it: a form post that redirects back to the project."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from portfolio.errors import Conflict
from portfolio.services import workflow
from portfolio.text import whole_number
from web.pages_common import CurrentActor, FormData, WriteSession
from web.routing import Router
from web.security import EDIT, relative
from web.templating import flash, render

router = Router(include_in_schema=False)


@router.post("/projects/{slug}/archive", name="project_archive", dependencies=[EDIT])
def archive_project(request: Request, slug: str, session: WriteSession, actor: CurrentActor,
                    form: FormData):
    """Archive or restore a project, then show it with a confirmation."""
    archived = form.get("archived", "true") != "false"
    version = form.get("version", "")
    try:
        workflow.archive(session=session, actor=actor, slug=slug, archived=archived,
                         version=whole_number(version))
    except Conflict:
        # Changed since the page showed it: the project as it is now, why above the form,
        # which now carries the newer version so sending it again is a choice made knowingly.
        session.rollback()
        from web.pages_projects import page_context  # the project page is that module's

        context = page_context(request, session, slug, values={}, errors={}, ranking=False,
                               archive_error=(
                                   "The project was changed by someone else since you opened "
                                   "it: it is shown as it is now. It is not "
                                   + ("archived" if archived else "restored")
                                   + "; do so again if it should still be."))
        return render(request, "project.html", context, status_code=409)
    flash(request, "The project is archived: it has left the lists and the ranking."
          if archived else "The project is restored to the lists.")
    # Post/Redirect/Get, to a relative Location (a Host header never names where to go).
    return RedirectResponse(relative(request.url_for("project", slug=slug)), status_code=303)
