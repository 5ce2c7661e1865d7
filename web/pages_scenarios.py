"""Pages: the Plan (forced projects, waves, what is left out and why, exports) and scenarios."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlmodel import col

from portfolio.db import Database
from portfolio.errors import Conflict, Invalid, NotFound
from portfolio.models import Project
from portfolio.schemas import ROW_ID_MAX
from portfolio.services import profiles as profile_service
from portfolio.services import scenarios as scenario_service
from portfolio.text import whole_number
from web.pages_common import AppDatabase, CurrentActor, FormData, WriteSession
from web.pages_projects import see_other
from web.routing import Router
from web.security import Policy, RowId, policy
from web.templating import flash, path_for, render

router = Router(include_in_schema=False)
READ = Depends(policy(Policy.READ))
SCENARIOS = Depends(policy(Policy.SCENARIOS))

Slugs = Annotated[list[str], Query(max_length=200)]
Amount = Annotated[str | None, Query(max_length=40)]
Text = Annotated[str | None, Query(max_length=200)]
EXPORTS = {"csv": ("text/csv; charset=utf-8", scenario_service.plan_csv),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    scenario_service.plan_xlsx)}


def _request(db: Database, *, budget: str | None, capacity: str | None, profile: str | None,
             force_in: list[str], force_out: list[str], scenario: int | None,
             ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return the plan request the page shows (a saved scenario's unless the form overrides)."""
    saved = None
    values: dict[str, Any] = {"budget": budget, "capacity": capacity, "profile": profile,
                              "force_in": force_in, "force_out": force_out}
    if scenario is not None:
        with db.read() as session:
            saved = scenario_service.get_scenario(session=session, scenario_id=scenario)
        if saved["kind"] == "roadmap":
            raise Invalid({"scenario": f"“{saved['name']}” is a roadmap: open it on the "
                                       "Roadmap page"})
        if budget is None and capacity is None:
            values = {k: saved[k] for k in values}
            for key in ("budget", "capacity"):
                values[key] = f"{values[key]:.2f}".rstrip("0").rstrip(".")
    values["force_in"] = [s.strip() for s in values["force_in"] or [] if s and s.strip()]
    values["force_out"] = [s.strip() for s in values["force_out"] or [] if s and s.strip()]
    return values, saved


def _solve(db: Database, values: dict[str, Any]) -> tuple[dict[str, Any] | None,
                                                          dict[str, str]]:
    """Check and solve a plan request; return the explained plan or the errors by field."""
    if values["budget"] in (None, "") and values["capacity"] in (None, ""):
        return None, {}
    try:
        with db.read() as session:
            checked = scenario_service.checked_request(session, values)
        return scenario_service.explained_plan(
            db, budget=checked["budget"], capacity=checked["capacity"],
            profile=checked["profile"], force_in=checked["force_in"],
            force_out=checked["force_out"]), {}
    except Invalid as exc:
        return None, exc.errors


def _solved(db: Database, values: dict[str, Any], saved: dict[str, Any] | None,
            opened: bool) -> tuple[dict[str, Any] | None, dict[str, str], str]:
    """Return the page's plan, its errors and a notice: an opened saved scenario is read
    from a worker's solution on the job queue (the notice says when it is still queued)."""
    if saved is None or not opened or db.queue is None:
        return (*_solve(db, values), "")
    found = scenario_service.solution(db, scenario_id=saved["id"])
    if found.waiting:
        return None, {}, (f"“{saved['name']}” is queued: a worker solves it at revision "
                          f"{found.revision}. Reload this page to see the plan.")
    try:
        return found.result()["plan"], {}, ""
    except Invalid as exc:
        return None, exc.errors, ""
    except scenario_service.SolveFailed as exc:
        return None, {}, exc.message


def project_titles(db: Database, slugs: list[str]) -> dict[str, str]:
    """Return the titles of projects by slug, for the forced sets."""
    if not slugs:
        return {}
    with db.read() as session:
        return dict(session.execute(select(col(Project.slug), col(Project.title)).where(
            Project.slug.in_(slugs))).all())  # type: ignore[attr-defined]


@router.get("/plan", name="plan", dependencies=[READ])
def plan_page(
    request: Request, db: AppDatabase, profile: Text = None, budget: Amount = None,
    capacity: Amount = None, force_in: Slugs = [], force_out: Slugs = [],  # noqa: B006
    scenario: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    version: Annotated[int | None, Query(ge=1, le=2**62)] = None,
):
    """Plan under a budget and a capacity, with projects forced in or out; open a scenario."""
    values, saved = _request(db, budget=budget, capacity=capacity, profile=profile,
                             force_in=force_in, force_out=force_out, scenario=scenario)
    result, errors, notice = _solved(db, values, saved, budget is None and capacity is None)
    with db.read() as session:
        profiles = profile_service.list_profiles(session=session, include_retired=False)
        saved_list = scenario_service.list_scenarios(session=session)
    query = urlencode({k: v for k, v in values.items() if v not in (None, "", [])}, doseq=True)
    return render(request, "plan.html", {
        "profiles": profiles, "values": values, "result": result, "errors": errors,
        "scenario": saved, "scenarios": saved_list, "query": query, "notice": notice,
        # The version the plan was first opened at, kept across Plan presses: saving over a
        # scenario someone saved meanwhile is refused, not a silent overwrite of theirs.
        "opened_version": version if saved is not None and version else None,
        "titles": project_titles(db, values["force_in"] + values["force_out"]),
        "profile": values["profile"] or (result["profile"] if result else ""),
    }, status_code=422 if errors else 200)


@router.get("/plan/export.{fmt}", name="plan_export", dependencies=[READ])
def plan_export(
    db: AppDatabase, fmt: str, profile: Text = None, budget: Amount = None,
    capacity: Amount = None, force_in: Slugs = [], force_out: Slugs = [],  # noqa: B006
    scenario: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    """Download a plan (its waves, then what is left out and why) as CSV or XLSX."""
    if fmt not in EXPORTS:
        raise Invalid({"fmt": "choose csv or xlsx"})
    values, saved = _request(db, budget=budget, capacity=capacity, profile=profile,
                             force_in=force_in, force_out=force_out, scenario=scenario)
    result: dict[str, Any] | None
    errors: dict[str, str] = {}
    if saved is not None and budget is None and capacity is None and db.queue is not None:
        # A worker's solution, or 503 with Retry-After while it is queued.
        result = scenario_service.solution(db, scenario_id=saved["id"]).result()["plan"]
    else:
        result, errors = _solve(db, values)
    if errors or result is None:
        raise Invalid(errors or {"budget": "give a budget and a capacity"})
    media_type, write = EXPORTS[fmt]
    return Response(write(result), media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="plan.{fmt}"'})


@router.get("/plan/compare", name="plan_compare", dependencies=[READ])
def plan_compare(
    request: Request, db: AppDatabase,
    scenario: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
):
    """Compare two or three saved scenarios side by side: value, cost, effort, adds and drops."""
    comparison, errors, notice = None, {}, ""
    # Read here, not by the query's types: a refusal then sits beside the ticks it keeps.
    chosen = [n for n in (whole_number(s) for s in scenario) if n is not None]
    if any(n > ROW_ID_MAX for n in chosen):
        # Past any id a scenario has (the database refuses the number itself).
        return _compare_page(request, db, None, {"scenarios": "a scenario ticked is no longer "
                             "saved: it was deleted meanwhile; tick others"}, "",
                             [n for n in chosen if n <= ROW_ID_MAX])
    try:
        if len(chosen) < len(scenario):
            raise Invalid({"scenarios": "a scenario is chosen by its number: tick the boxes"})
        # Opened with nothing ticked, the page offers the choice; it is not yet a refusal.
        comparison = scenario_service.compare_scenarios(
            db, scenario_ids=chosen) if chosen else None
    except Invalid as exc:
        errors = exc.errors
    except NotFound as exc:
        errors = {"scenarios": f"scenario {exc.key} is no longer saved: it was deleted "
                               "meanwhile; tick others"}
    except scenario_service.SolveQueued as exc:
        notice = f"{exc.message}. Reload this page to see the comparison."
    except scenario_service.SolveFailed as exc:
        notice = exc.message
    return _compare_page(request, db, comparison, errors, notice, chosen)


def _compare_page(request: Request, db: AppDatabase, comparison: Any, errors: dict[str, str],
                  notice: str, chosen: list[int]):
    """Render the comparison page: the saved scenarios to tick, and the comparison or why not."""
    with db.read() as session:
        saved_list = scenario_service.list_scenarios(session=session)
    return render(request, "plan_compare.html", {
        "comparison": comparison, "errors": errors, "scenarios": saved_list,
        "chosen": chosen, "notice": notice,
    }, status_code=422 if errors else 200)


async def multi_form(request: Request) -> dict[str, list[str]]:
    """Return a posted form's text fields with every value of a repeated field."""
    out: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


MultiForm = Annotated[dict[str, list[str]], Depends(multi_form)]


def _form_request(form: dict[str, list[str]]) -> dict[str, Any]:
    """Read a scenario from a posted form (forced sets come as repeated fields)."""
    def one(key: str) -> str:
        return (form.get(key) or [""])[-1]

    data: dict[str, Any] = {k: one(k) for k in ("name", "description", "profile", "budget",
                                                 "capacity")}
    data |= {k: " ".join(form.get(k, [])) for k in ("force_in", "force_out")}
    if one("version"):
        data["version"] = one("version")
    return data


def _refused(request: Request, db: Database, data: dict[str, Any], errors: dict[str, str],
             scenario: int | None, status_code: int = 422):
    """Show the plan page again with the scenario form's errors beside its fields."""
    values = {k: data[k] for k in ("budget", "capacity", "profile")}
    values |= {k: data[k].split() for k in ("force_in", "force_out")}
    with db.read() as session:
        profiles = profile_service.list_profiles(session=session, include_retired=False)
        saved_list = scenario_service.list_scenarios(session=session)
        saved = (scenario_service.get_scenario(session=session, scenario_id=scenario)
                 if scenario else None)
    return render(request, "plan.html", {
        "profiles": profiles, "values": values, "result": None, "errors": {},
        "save_errors": errors, "save_values": data, "scenario": saved, "scenarios": saved_list,
        "query": "", "titles": project_titles(db, values["force_in"] + values["force_out"]),
        "profile": values["profile"],
    }, status_code=status_code)


@router.post("/scenarios", name="scenario_create", dependencies=[SCENARIOS])
def scenario_create(request: Request, db: AppDatabase, session: WriteSession,
                    actor: CurrentActor, form: MultiForm):
    """Save the plan request on the page as a named scenario, then open it."""
    data = _form_request(form)
    try:
        saved = scenario_service.create_scenario(session=session, actor=actor, data=data)
    except Invalid as exc:
        session.rollback()
        return _refused(request, db, data, exc.errors, None)
    return see_other(f"{request.url_for('plan')}?scenario={saved['id']}")


@router.post("/scenarios/{scenario_id}", name="scenario_update", dependencies=[SCENARIOS])
def scenario_update(request: Request, db: AppDatabase, session: WriteSession,
                    actor: CurrentActor, scenario_id: RowId,
                    form: MultiForm):
    """Save the plan request on the page over a saved scenario."""
    data = _form_request(form)
    try:
        saved = scenario_service.update_scenario(session=session, actor=actor,
                                                 scenario_id=scenario_id, data=data)
    except Invalid as exc:
        session.rollback()
        return _refused(request, db, data, exc.errors, scenario_id)
    except Conflict as exc:
        # Saved meanwhile: the settings stay on the page, and its "save over" form now carries
        # the version saved, so saving again replaces it knowingly.
        session.rollback()
        return _refused(request, db, data, {"scenario": (
            f"it was changed by someone else since you opened it{_changes(exc)}, so these "
            "settings are not saved; save them over it again to replace theirs")},
            scenario_id, 409)
    except NotFound:
        # Deleted meanwhile: the settings stay on the page, to be saved as a new scenario.
        session.rollback()
        return _refused(request, db, data, {"scenario": (
            f"“{data['name']}” was deleted by someone else since you opened it, so these "
            "settings are not saved; save them as a new scenario below")}, None, 404)
    return see_other(f"{request.url_for('plan')}?scenario={saved['id']}")


def _changes(exc: Conflict) -> str:
    """Return what a scenario's change made meanwhile set, as words to add to the refusal."""
    def said(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:g}" if abs(value) < 1e15 else str(value)
        if isinstance(value, list | dict):
            return ", ".join(map(str, value)) or "none"
        return "none" if value in (None, "") else str(value)

    return (" (now " + "; ".join(f"{name.replace('_', ' ')}: {said(value)}"
                                 for name, value in exc.changed.items()) + ")"
            if exc.changed else "")


@router.post("/scenarios/{scenario_id}/delete", name="scenario_delete",
             dependencies=[SCENARIOS])
def scenario_delete(request: Request, db: AppDatabase, session: WriteSession,
                    actor: CurrentActor, scenario_id: RowId, form: FormData):
    """Delete a saved scenario, unless it was changed since the page showed it."""
    try:
        found = scenario_service.get_scenario(session=session, scenario_id=scenario_id)
        scenario_service.delete_scenario(session=session, actor=actor, scenario_id=scenario_id,
                                         version=whole_number(form.get("version", "")))
    except Conflict as exc:
        session.rollback()
        if exc.current["kind"] == "roadmap":
            # Its own page shows it as it is now, the delete form carrying the version saved.
            flash(request, f"“{exc.current['name']}” was changed by someone else since you "
                           f"opened it{_changes(exc)}, so it is not deleted; delete it again "
                           "to remove it as it is now.")
            return see_other(f"{path_for(request, 'roadmap')}?scenario={scenario_id}")
        # Kept: the page shows it as it is now, its delete form carrying the version saved.
        now = exc.current
        data = {"name": now["name"], "description": now["description"],
                "budget": str(now["budget"]), "profile": now["profile"] or "",
                "capacity": "" if now["capacity"] is None else str(now["capacity"]),
                "force_in": " ".join(now["force_in"]), "force_out": " ".join(now["force_out"])}
        return _refused(request, db, data, {"scenario": (
            f"it was changed by someone else since you opened it{_changes(exc)}, so it is not "
            "deleted; delete it again to remove it as it is now")}, scenario_id, 409)
    except NotFound:
        session.rollback()
        flash(request, "That scenario was already deleted, by someone else or in another tab.")
        return see_other(request.url_for("plan"))
    if found["kind"] == "roadmap":
        flash(request, f"Deleted the roadmap scenario “{found['name']}”.")
        return see_other(path_for(request, "roadmap"))
    return see_other(request.url_for("plan"))


def _opened_at(request: Request, scenario: dict[str, Any]) -> str:
    """Return the address of the page a saved scenario opens on (Plan or Roadmap)."""
    page = "roadmap" if scenario["kind"] == "roadmap" else "plan"
    return f"{path_for(request, page)}?scenario={scenario['id']}"


def _rename_page(request: Request, scenario: dict[str, Any], values: dict[str, str], *,
                 errors: dict[str, str] | None = None, status_code: int = 200):
    """Render a saved scenario's name and description form."""
    return render(request, "scenario_rename.html", {
        "scenario": scenario, "values": values, "errors": errors or {},
        "back": _opened_at(request, scenario)}, status_code=status_code)


@router.get("/scenarios/{scenario_id}/rename", name="scenario_rename",
            dependencies=[SCENARIOS])
def scenario_rename_page(request: Request, db: AppDatabase, scenario_id: RowId):
    """Show a saved scenario's name and description, to change them."""
    with db.read() as session:
        found = scenario_service.get_scenario(session=session, scenario_id=scenario_id)
    return _rename_page(request, found, {"name": found["name"],
                                         "description": found["description"] or "",
                                         "version": str(found["version"])})


@router.post("/scenarios/{scenario_id}/rename", name="scenario_rename_save",
             dependencies=[SCENARIOS])
def scenario_rename(request: Request, db: AppDatabase, session: WriteSession,
                    actor: CurrentActor, scenario_id: RowId, form: FormData):
    """Change a saved scenario's name and description, unless it changed since it was read."""
    values = {k: form.get(k, "") for k in ("name", "description", "version")}
    try:
        saved = scenario_service.update_scenario(session=session, actor=actor,
                                                 scenario_id=scenario_id, data=values)
    except Invalid as exc:
        session.rollback()
        found = scenario_service.get_scenario(session=session, scenario_id=scenario_id)
        return _rename_page(request, found, values, errors=exc.errors, status_code=422)
    except Conflict as exc:
        # What was typed stays; the form now carries the version saved, to save it knowingly.
        session.rollback()
        return _rename_page(request, exc.current, values | {
            "version": str(exc.current["version"])}, errors={"form": (
                f"“{exc.current['name']}” was changed by someone else since you opened it"
                f"{_changes(exc)}, so your name and description are not saved; save them "
                "again to put them over it.")}, status_code=409)
    flash(request, f"Saved the name and description of “{saved['name']}”.")
    return see_other(_opened_at(request, saved))
