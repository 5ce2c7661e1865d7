"""Pages over the engine: dashboard, backlog with what-if weights, plan, graph."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request
from markupsafe import Markup
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from portfolio.db import Database
from portfolio.enums import DIMENSIONS, ProjectStatus, Theme
from portfolio.errors import Invalid
from portfolio.services import dashboard as dashboard_service
from portfolio.services import datasets as dataset_service
from portfolio.services import filters as closed_lists
from portfolio.services import organisations as organisation_service
from portfolio.services import planning
from portfolio.services import profiles as profile_service
from portfolio.services import ranking as ranking_service
from portfolio.services.common import at_revision
from portfolio.services.ranking import CANDIDATES, COMMITTED, VIEW_OF_STATUS
from web.backlog_table import ranking_table
from web.charts import bubble_matrix, budget_curve
from web.deps import page_revision, seen_revision
from web.pages_common import AppDatabase
from web.pages_together import committed_progress, rag_summary
from web.routing import Router
from web.security import Policy, policy
from web.templating import is_htmx_partial, render, templates

router = Router(include_in_schema=False)
READ = Depends(policy(Policy.READ))

Text = Annotated[str | None, Query(max_length=200)]
Code = Annotated[str | None, Query(max_length=32)]
# The backlog's views, and the graph page's views, layouts and colourings.
BACKLOG_VIEWS = closed_lists.Closed("view", (CANDIDATES, COMMITTED))
GRAPH_VIEWS = closed_lists.Closed("view", ("network", "datasets"))
GRAPH_LAYOUTS = closed_lists.Closed("layout", ("force", "layered"))
GRAPH_COLOURINGS = closed_lists.Closed("colouring", ("readiness", "status"))
# The kinds of node the graph draws (scoring.graph.build_graph).
NODE_KINDS = closed_lists.Closed("kind of node", ("project", "dataset", "organisation"))
# Each backlog view's tab: its label and note; its statuses come from the engine's own table.
VIEW_TABS = tuple(
    {"name": name, "label": label, "note": note,
     "statuses": tuple(s for s, v in VIEW_OF_STATUS.items() if v == name)}
    for name, label, note in (
        (CANDIDATES, "Candidates", "idea, proposed and approved work not started: what you "
         "decide on"),
        (COMMITTED, "Committed", "work in progress or paused"),
    )
)


def _choices(db: Database, revision: int | None = None) -> dict[str, Any]:
    """Return the filter choices every engine page offers."""
    profiles, organisations, owners = at_revision(
        db, "engine page choices", _choices_read, revision=revision)
    return {"profiles": profiles, "organisations": organisations, "owners": owners,
            "themes": [t.value for t in Theme], "statuses": [s.value for s in ProjectStatus]}


def _choices_read(session: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                            closed_lists.Closed]:
    """Read the profiles and organisations offered, and the owner filter's closed list."""
    organisations = organisation_service.list_organisations(session=session)
    # Kept with the organisations: a page built the 400 codes' list on every view.
    return (profile_service.list_profiles(session=session, include_retired=False),
            organisations, closed_lists.organisations(o["code"] for o in organisations))


@router.get("/dashboard", name="dashboard", dependencies=[READ])
def dashboard_page(request: Request, db: AppDatabase,
                   profile: Text = None):
    """Show the portfolio at a glance."""
    choices = _choices(db)
    # The page has no profile choice of its own: a profile naming nothing is said over the top.
    profile_name, unknown = _asked_profile(db, choices["profiles"], profile)
    data = dashboard_service.dashboard(db, profile=profile_name, seen=seen_revision(request))
    return render(request, "dashboard.html", {
        **data, "chart": bubble_matrix(data["matrix"]), **choices, "rag": rag_summary(db),
        "errors": {"form": unknown["profile"]} if unknown else {},
    }, status_code=422 if unknown else 200)


def _controls(request: Request, db: Database, revision: int,
              context: dict[str, Any]) -> Markup | None:
    """Render the backlog's filter form, once per worker for the same filters at a revision."""
    if is_htmx_partial(request):
        return None  # the fragment leaves the form as it is

    def draw() -> Markup:
        return Markup(templates.get_template("_backlog_controls.html").render(
            request=request, **context))

    key = ("backlog controls", revision, tuple(sorted(context["filters"].items())),
           tuple(sorted(context["errors"].items())),
           tuple(sorted(context["weights"].items())))
    return db.page_memo.get_or_compute(key, draw)


def _why_panels(request: Request, names: dict[str, Any]) -> Callable[[dict[str, Any]], Markup]:
    """Return what draws a what-if row's why panel inline (the project page's macro)."""
    macros = templates.get_template("_why.html").make_module({"request": request})
    panel = macros.why_panel  # type: ignore[attr-defined]  # a macro of the template
    return lambda row: Markup(panel(row, names))


def _ranking_table(request: Request, db: Database, page: dict[str, Any], key: tuple) -> Markup:
    """Render a backlog page's rows; a stored run's pages are rendered once per worker."""
    def draw() -> Markup:
        return ranking_table(request, page["rows"], whatif=page["whatif"],
                             profile=page["profile"], view=page["view"],
                             why_panel=lambda: _why_panels(request, page["names"]))

    if page["run_id"] is None or page.get("behind"):
        return draw()
    # A stored run never changes and its rows carry nothing of the reader: one rendering serves
    # all that day (the day says which rows are overdue).
    frozen = (page["run_id"], date.today(), tuple(sorted(key[0].items())), key[1])
    return db.page_memo.get_or_compute(("backlog table", *frozen), draw)


async def slider_weights(**weights: str | None) -> dict[str, str | None]:
    """Return the what-if sliders as given: an optional `w_<dimension>`, 0 to 100."""
    # Async so it runs on the event loop, not on a pool thread (see `app_database`).
    return {f"w_{d}": weights[f"w_{d}"] for d in DIMENSIONS}


# One optional query parameter per dimension, read as text: a weight that is no number from 0
# to 100 is said beside its slider (closed_lists.sift_weights), as a filter naming nothing is.
slider_weights.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
    inspect.Parameter(f"w_{d}", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Text)
    for d in DIMENSIONS])


@router.get("/backlog", name="backlog", dependencies=[READ])
async def backlog_page(
    request: Request, db: AppDatabase,
    slider: Annotated[dict[str, str | None], Depends(slider_weights)],
    profile: Text = None, view: Text = None,
    organisation: Code = None, theme: Code = None, status: Code = None, q: Text = None,
    after: Text = None, for_profile: Text = None,
):
    """Show the ranked backlog; the weight sliders re-rank it in place through htmx."""
    # One revision read serves the choices and the ranking run, both kept per revision.
    revision = page_revision(request, db)
    choices = _choices(db, revision)
    shown, view_error = closed_lists.sift(view=(BACKLOG_VIEWS, view))
    view = shown["view"] or CANDIDATES
    profile_name, profile_error = _asked_profile(db, choices["profiles"], profile)
    chosen = next((p for p in choices["profiles"] if p["name"] == profile_name), None)
    # Sliders left over from another profile (the user just switched) are reset, not applied.
    reset_sliders = for_profile is not None and for_profile != profile_name
    sliders, slider_errors = closed_lists.sift_weights(**slider)
    after_rank, after_error = closed_lists.sift_after(after)
    whatif = None
    if chosen is not None and not reset_sliders:
        base = {d: round(chosen["weights"]["dimension"][d] * 100) for d in DIMENSIONS}
        moved = {d: v for d in DIMENSIONS if (v := sliders[f"w_{d}"]) is not None}
        if any(abs(v - base[d]) >= 0.5 for d, v in moved.items()):
            whatif = {d: moved.get(d, float(base[d])) for d in DIMENSIONS}
    tab = next(t for t in VIEW_TABS if t["name"] == view)
    applied, errors = closed_lists.sift(
        organisation=(choices["owners"], organisation),
        theme=(closed_lists.THEMES, theme), status=(closed_lists.statuses_in_view(view), status))
    errors = view_error | profile_error | errors | slider_errors | after_error
    # A value naming nothing is said beside its filter; the ranking is shown without it.
    filters: dict[str, Any] = {"profile": profile_name, "view": view, **applied,
                               "q": q or None}
    read_page = partial(ranking_service.backlog_page, db, dimension_weights=whatif,
                        after=after_rank, seen=seen_revision(request), revision=revision,
                        **filters)
    try:
        # Async, so that a page of a run this worker holds is read on the event loop: the hop
        # to a pool thread and back was a sixth of such a page (0.6 ms of 4, measured). What
        # may compute, wait for a ranking or scan many rows goes to a thread as before.
        quick = ranking_service.stored_page_is_quick(db, dimension_weights=whatif,
                                                     revision=revision, **filters)
        page = read_page() if quick else await run_in_threadpool(read_page)
        error = None
    except Invalid as exc:
        page = {"rows": [], "next_after": None, "whatif": True, "profile": profile_name,
                "names": {"projects": {}, "datasets": {}},
                "run_id": None, "view": view, "samples": 0, "total": 0, "previous_after": None}
        error = exc.message
    weights = whatif or ({d: round(chosen["weights"]["dimension"][d] * 100, 1)
                          for d in DIMENSIONS} if chosen else {d: 0 for d in DIMENSIONS})
    query = {k: v for k, v in filters.items() if v}
    if whatif:
        query |= {f"w_{d}": whatif[d] for d in DIMENSIONS}
    next_url = (f"{request.url.path}?{urlencode(query | {'after': page['next_after']})}"
                if page["next_after"] else None)
    first_url = f"{request.url.path}?{urlencode(query)}" if after_rank else None
    # The previous page, unless it is the first (which "First page" already offers).
    previous_url = (f"{request.url.path}?{urlencode(query | {'after': page['previous_after']})}"
                    if page.get("previous_after") else None)
    # A tab keeps the other filters; a status belongs to one view, so it is dropped.
    tab_urls = {t["name"]: f"{request.url.path}?" + urlencode(
        {k: v for k, v in query.items() if k != "status"} | {"view": t["name"]})
        for t in VIEW_TABS}
    form = {**choices, "filters": filters, "weights": weights, "tab": tab, "errors": errors}
    return render(request, "backlog.html", {
        **choices, **page, "table": _ranking_table(request, db, page, (filters, after_rank)),
        "controls": _controls(request, db, revision, form),
        "filters": filters, "weights": weights, "error": error, "errors": errors,
        "chosen": chosen, "next_url": next_url, "first_url": first_url, "after": after_rank,
        "previous_url": previous_url,
        "reset_sliders": reset_sliders, "tabs": VIEW_TABS, "tab": tab,
        "tab_urls": tab_urls,
        "progress": committed_progress(db, page["rows"]) if view == COMMITTED else [],
    }, block="ranking", status_code=422 if errors else 200)


def _asked_profile(db: Database, profiles: list[dict[str, Any]],
                   asked: str | None) -> tuple[str | None, dict[str, str]]:
    """Return the profile to rank under, and why the one asked for is not, if it is none."""
    offered = closed_lists.Closed("weight profile", [p["name"] for p in profiles])
    first = next(iter(offered.values), None)
    if not asked or asked in offered.values:
        return asked or first, {}
    with db.read() as session:  # a retired profile is not offered but still ranks, as before
        if asked in {p["name"] for p in profile_service.list_profiles(session=session)}:
            return asked, {}
    return first, {"profile": offered.message(asked)}


@router.get("/projects/{slug}/why", name="project_why", dependencies=[READ])
def project_why(request: Request, db: AppDatabase, slug: Annotated[str, Path(max_length=120)],
                profile: Text = None):
    """Explain a project's rank under a profile (the backlog loads it into a row's "why")."""
    return render(request, "project_why.html", {
        **ranking_service.explain(db, slug, profile=profile or None,
                                  seen=seen_revision(request)), **_choices(db),
    }, block="why")


@router.get("/plan/frontier", name="plan_frontier", dependencies=[READ])
def frontier_fragment(
    request: Request, db: AppDatabase, budget: Annotated[float, Query(gt=0)],
    capacity: Annotated[float, Query(ge=0)], profile: Text = None,
):
    """Draw the value-against-budget curve up to one and a half times the budget."""
    budgets = [budget * 1.5 * (i + 1) / 8 for i in range(8)]
    curve = planning.frontier(db, capacity=capacity, budgets=budgets,
                                    profile=profile or None)
    points = [(0.0, 0.0)] + [(p["budget"], p["objective"] or 0.0) for p in curve]
    return render(request, "plan_frontier.html", {
        "curve": curve, "chart": budget_curve(points, budget), "budget": budget,
        "capacity": capacity,
    }, block="curve")


@router.get("/graph", name="graph", dependencies=[READ])
def graph_page(request: Request, db: AppDatabase, organisation: Code = None, theme: Code = None,
               kind: Code = None, colour: Code = None,
               focus: Annotated[str | None, Query(max_length=120)] = None,
               view: Code = None, layout: Code = None):
    """Show the interactive network, or which datasets are shared by which projects."""
    choices = _choices(db)
    applied, errors = closed_lists.sift(
        organisation=(choices["owners"], organisation),
        theme=(closed_lists.THEMES, theme), kind=(NODE_KINDS, kind),
        view=(GRAPH_VIEWS, view), layout=(GRAPH_LAYOUTS, layout),
        colour=(GRAPH_COLOURINGS, colour))
    # A value naming nothing is said beside its filter; the graph is drawn without it.
    view, layout = applied.pop("view") or "network", applied.pop("layout") or "force"
    colour = applied.pop("colour") or "readiness"
    params = {k: v for k, v in applied.items() if v}
    api_url = str(request.url_for("get_graph").path) + ("?" + urlencode(params) if params else "")
    return render(request, "graph.html", {
        **choices, "errors": errors, "organisation": applied["organisation"] or "",
        "theme": applied["theme"] or "", "kind": applied["kind"] or "",
        "colour": colour,
        "focus": focus or "", "api_url": api_url, "view": view, "layout": layout,
        "graphml_url": str(request.url_for("get_graphml").path),
        "shared": _shared_datasets(db) if view == "datasets" else None,
        "view_urls": {v: f"{request.url.path}?" + urlencode(params | {"view": v})
                      for v in ("network", "datasets")},
    }, status_code=422 if errors else 200)


def _shared_datasets(db: Database) -> list[dict[str, Any]]:
    """Return the datasets several projects share, kept per portfolio revision."""
    return at_revision(db, "shared datasets", lambda session: dataset_service.shared_datasets(
        session=session))
