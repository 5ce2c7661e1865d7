"""The catalogue harvest page: preview what an open-data portal would add, then harvest it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Form, Query, Request
from fastapi.responses import RedirectResponse

from portfolio import jobs
from portfolio.actors import Actor
from portfolio.errors import Invalid, NotFound
from portfolio.services import organisations
from portfolio.services.harvest import HarvestFailed, HarvestPlan, Limits, harvest
from web.pages_common import AppDatabase
from web.routing import Router
from web.security import Policy, policy
from web.templating import render

router = Router(include_in_schema=False)
Harvester = Annotated[Actor, Depends(policy(Policy.CATALOGUE))]
# A preview lists at most this many entries of each kind (a catalogue can hold 100,000).
SHOWN = 200


def _run(db: AppDatabase, actor: Actor, url: str, publisher: str, *, dry_run: bool,
         confirmed: set[str]) -> tuple[HarvestPlan | None, dict[str, str]]:
    """Run a harvest; return its plan, or the errors to show beside the fields."""
    try:
        return harvest(db, actor=actor, url=url, default_publisher=publisher, dry_run=dry_run,
                       confirmed=confirmed, limits=Limits.of(db.settings)), {}
    except HarvestFailed as exc:
        return None, {"url": exc.message}
    except NotFound:
        return None, {"publisher": "choose an organisation from the list"}
    except Invalid as exc:
        return None, exc.errors


def _job_notice(outcome: dict[str, Any] | None, job: int) -> str:
    """Say how a queued harvest went (or that it is still waiting for a worker)."""
    if outcome is None:
        return (f"The harvest is queued (job {job}): a worker runs it. Reload this page to see "
                "how it went.")
    if outcome["succeeded"]:
        return f"Harvested (job {job}): {outcome['summary']}."
    if outcome["gave_up"]:
        return (f"The harvest (job {job}) failed after {outcome['attempt']} attempts; nothing "
                f"was written. {outcome['error']}")
    return (f"The harvest (job {job}) failed on attempt {outcome['attempt']} and will be tried "
            f"again: {outcome['error']}")


def _page(request: Request, db: AppDatabase, form: dict[str, Any], plan: HarvestPlan | None,
          errors: dict[str, str], notice: str = "", status_code: int = 200):
    """Render the harvest page."""
    with db.read() as session:
        choices = organisations.list_organisations(session=session)
    return render(request, "catalogue_harvest.html", {
        "form": form, "errors": errors, "plan": plan.summary() if plan else None,
        "shown": SHOWN, "notice": notice,
        "publisher_options": [(o["code"], o["name"]) for o in choices],
    }, status_code=status_code)


@router.get("/catalogue/harvest", name="catalogue_harvest")
def harvest_page(
    request: Request, db: AppDatabase, actor: Harvester,
    url: Annotated[str, Query(max_length=1000)] = "",
    publisher: Annotated[str, Query(max_length=32)] = "GLA",
    added: Annotated[int | None, Query(ge=0)] = None,
    updated: Annotated[int | None, Query(ge=0)] = None,
    job: Annotated[int | None, Query(ge=1, le=2**62)] = None,
):
    """Show the harvest form and, for a portal address, what a harvest would do (a dry run)."""
    form = {"url": url, "publisher": publisher}
    notice = (f"Harvested: {added} dataset(s) added and {updated} updated."
              if added is not None and updated is not None else "")
    if job is not None:
        notice = _job_notice(jobs.job_outcome(db, actor, job), job)
    if not url:
        return _page(request, db, form, None, {}, notice)
    plan, errors = _run(db, actor, url.strip(), publisher, dry_run=True, confirmed=set())
    return _page(request, db, form, plan, errors, notice, status_code=422 if errors else 200)


@router.post("/catalogue/harvest", name="catalogue_harvest_run")
def harvest_run(
    request: Request, db: AppDatabase, actor: Harvester,
    url: Annotated[str, Form(max_length=1000)],
    publisher: Annotated[str, Form(max_length=32)] = "GLA",
    confirm: Annotated[list[str] | None, Form()] = None,
):
    """Harvest the portal, all or nothing; then show the page again with what was done."""
    form = {"url": url, "publisher": publisher}
    if db.queue is not None:
        # On the job queue: a worker reads the portal; this page then shows how it went.
        job = db.queue.harvest(actor, url=url.strip(), publisher=publisher,
                               confirm=list(confirm or []))
        query = urlencode({"url": url, "publisher": publisher, "job": job})
        return RedirectResponse(str(request.app.url_path_for("catalogue_harvest")) + "?" + query,
                                status_code=303)
    plan, errors = _run(db, actor, url.strip(), publisher, dry_run=False,
                        confirmed=set(confirm or []))
    if plan is None:
        return _page(request, db, form, None, errors, status_code=422)
    query = urlencode({"url": url, "publisher": publisher, "added": len(plan.add),
                       "updated": len(plan.update)})
    target = str(request.app.url_path_for("catalogue_harvest")) + "?" + query
    return RedirectResponse(target, status_code=303)
