"""Pages for the roadmap by quarter, its timeline, and each organisation's capacity."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from portfolio.actors import Actor
from portfolio.errors import Conflict, Invalid, NotFound
from portfolio.schemas import year_month_day
from portfolio.services import filters as closed_lists
from portfolio.services import organisations as organisation_service
from portfolio.services import profiles as profile_service
from portfolio.services import roadmap as roadmap_service
from portfolio.services import scenarios as scenario_service
from portfolio.services.common import at_revision
from portfolio.text import comma_problem, typed_amount
from web.deps import get_database
from web.pages_common import AppDatabase, CurrentActor, FormData, sentence
from web.pages_scenarios import MultiForm, project_titles
from web.routing import Router
from web.security import Policy, policy
from web.templating import flash, path_for, render
from web.timeline import capacity_chart, timeline

router = Router(include_in_schema=False)
READ = Depends(policy(Policy.READ))
CAPACITY = Depends(policy(Policy.CAPACITY))
SCENARIOS = Depends(policy(Policy.SCENARIOS))
Text = Annotated[str | None, Query(max_length=40)]
Slugs = Annotated[list[str], Query(max_length=200)]
Slug = Annotated[str | None, Query(max_length=200)]
# What the timeline's rows may be grouped by.
GROUPINGS = closed_lists.Closed("grouping", ("organisation", "theme"))


def _number(errors: dict[str, str], name: str, raw: str | None, *, whole: bool = False,
            words: str) -> Any:
    """Read a number typed into the form; note a plain-English error beside its field."""
    if raw is None or raw.strip() == "":
        return None
    problem = comma_problem(raw)
    if problem:
        errors[name] = problem
        return None
    try:
        value = float(typed_amount(raw))
        if whole:
            if value != int(value):
                raise ValueError
            return int(value)
        return value
    except ValueError:
        errors[name] = f"enter {words}"
        return None


@router.get("/plan/roadmap", name="roadmap", dependencies=[READ])
def roadmap_page(
    request: Request, db: AppDatabase, budget: Text = None, horizon: Text = None,
    capacity: Text = None, discount_rate: Text = None,
    profile: Annotated[str | None, Query(max_length=120)] = None,
    group: Annotated[str | None, Query(max_length=20)] = None,
    scenario: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    force_in: Slugs = [], force_out: Slugs = [],  # noqa: B006
    deadline_for: Slugs = [], deadline_on: Slugs = [],  # noqa: B006
    new_deadline_for: Slug = None, new_deadline_on: Text = None,
):
    """Plan which projects start in which quarter; show it by quarter and as a timeline."""
    if scenario is not None:
        return _render(request, db, _opened(db, scenario), group=group)
    form = {"budget": budget or "", "capacity": capacity or "", "horizon": horizon or "",
            "discount_rate": discount_rate or "", "profile": profile or ""}
    # Sent (its budget field is in the address, filled or not), not the first visit.
    sent = "budget" in request.query_params
    return _render(request, db, {"form": form, "sent": sent, "shape": _shape(
        force_in, force_out, deadline_for, deadline_on, new_deadline_for, new_deadline_on)},
        group=group)


def _shape(force_in: list[str], force_out: list[str], deadline_for: list[str],
           deadline_on: list[str], new_for: str | None = None,
           new_on: str | None = None) -> dict[str, Any]:
    """Return the form's forced sets and deadlines as typed (blanks dropped, pairs kept)."""
    def slugs(typed: list[str]) -> list[str]:
        return list(dict.fromkeys(s.strip() for s in typed if s.strip()))

    # A date cleared still comes as a blank: the pairs stay in step (one short pads blank).
    pairs = zip(deadline_for, [*deadline_on, *[""] * len(deadline_for)], strict=False)
    return {"force_in": slugs(force_in), "force_out": slugs(force_out),
            "deadlines": [(slug.strip(), day.strip()) for slug, day in pairs if slug.strip()],
            "new_deadline_for": (new_for or "").strip(), "new_deadline_on": (new_on or "").strip()}


def _constraints(db: Any, shape: dict[str, Any],
                 errors: dict[str, str]) -> dict[str, Any]:
    """Read the forced sets and deadlines the form holds; note each problem beside its field.

    A listed deadline whose date is cleared is released; the row to add one is taken when it
    names a project and a date, and then listed with the others.
    """
    listed: dict[str, date] = {}
    for slug, typed in shape["deadlines"]:
        if not typed:
            continue
        try:
            listed[slug] = year_month_day(typed)
        except ValueError as exc:
            errors.setdefault("deadlines", f"{slug}: {exc}")
    with db.read() as session:
        for slug, (_kind, problem) in roadmap_service.deadline_problems(session, listed).items():
            errors.setdefault("deadlines", problem)
            listed.pop(slug)
        new_for, new_on = shape["new_deadline_for"], shape["new_deadline_on"]
        if new_for and not new_on:
            errors["new_deadline_on"] = f"Enter the date by which {new_for} must start."
        elif new_on and not new_for:
            errors["new_deadline_for"] = "Choose the project the deadline is for."
        elif new_for:
            try:
                day = year_month_day(new_on)
            except ValueError as exc:
                errors["new_deadline_on"] = str(exc)
            else:
                found = roadmap_service.deadline_problems(session, {new_for: day}).get(new_for)
                if found is not None:
                    errors["new_deadline_" + ("for" if found[0] == "project" else "on")] = found[1]
                else:
                    listed[new_for] = day
                    shape |= {"new_deadline_for": "", "new_deadline_on": ""}
    # Listed as typed (a refused one too, beside its message); one added replaces its row.
    rows = {slug: typed for slug, typed in shape["deadlines"] if typed}
    rows |= {slug: day.isoformat() for slug, day in listed.items() if slug == new_for}
    shape["deadlines"] = list(rows.items())
    return {"force_in": tuple(shape["force_in"]), "force_out": tuple(shape["force_out"]),
            "deadlines": listed}


def _pack_query(form: dict[str, str], shape: dict[str, Any]) -> str:
    """Return the board pack's address query for the roadmap the form asks for."""
    pairs = [(k, form[k]) for k in ("budget", "horizon", "capacity", "discount_rate", "profile")]
    pairs += [(k, slug) for k in ("force_in", "force_out") for slug in shape[k]]
    for slug, day in shape["deadlines"]:
        pairs += [("deadline_for", slug), ("deadline_on", day)]
    return urlencode(pairs)


def _opened(db: Any, scenario_id: int) -> dict[str, Any]:
    """Return a saved roadmap scenario as the page's form and its request."""
    with db.read() as session:
        saved = scenario_service.get_scenario(session=session, scenario_id=scenario_id)
    if saved["kind"] != "roadmap":
        raise Invalid({"scenario": f"“{saved['name']}” is a plan, not a roadmap: open it on "
                                   "the Plan page"})
    form = {"budget": _plain(saved["budget"]), "capacity": _plain(saved["capacity"]),
            "horizon": str(saved["horizon"]), "discount_rate": _plain(saved["discount_rate"]),
            "profile": saved["profile"] or ""}
    deadlines = saved["deadlines"]
    return {"form": form, "scenario": saved, "shape": _shape(
        saved["force_in"], saved["force_out"], list(deadlines), list(deadlines.values()))}


def _plain(value: float | None) -> str:
    """Write a stored number as the form shows it (no trailing .0)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _render(request: Request, db: Any, opened: dict[str, Any], *, group: str | None,
            save_errors: dict[str, str] | None = None, save_values: dict[str, str] | None = None):
    """Solve the roadmap the form (or an opened scenario) asks for and render the page."""
    profiles = at_revision(db, "roadmap profiles",
                           lambda session: profile_service.list_profiles(session=session))
    # Retired profiles leave the choices, but a saved roadmap keeps the one it was saved with.
    kept = (opened.get("scenario") or {}).get("profile")
    profiles = [p for p in profiles if not p["retired"] or p["name"] == kept]
    # A number of spaces is a blank, as a number typed is read without its spaces.
    form = {name: (value or "").strip() for name, value in opened["form"].items()}
    form["horizon"] = form["horizon"] or str(roadmap_service.DEFAULT_HORIZON)
    form["discount_rate"] = form["discount_rate"] or str(roadmap_service.DEFAULT_DISCOUNT_RATE)
    form["profile"] = form["profile"] or (profiles[0]["name"] if profiles else "")
    unreadable: dict[str, str] = {}
    values = _values(unreadable, form)
    # A profile or grouping naming nothing is said beside its field; the first is used.
    applied, unknown = closed_lists.sift(
        profile=(closed_lists.Closed("weight profile", [p["name"] for p in profiles]),
                 form["profile"]), group=(GROUPINGS, group))
    form["profile"] = applied["profile"] or (profiles[0]["name"] if profiles else "")
    shape = opened.get("shape") or _shape([], [], [], [])
    constraints = _constraints(db, shape, unreadable)
    errors = unreadable | unknown  # in the form's order, for the summary
    if opened.get("sent") and not form["budget"]:
        errors = {"budget": "Enter the budget per quarter: each quarter of the roadmap spends "
                            "at most this much."} | errors
    result, saved = None, opened.get("scenario")
    notices: list[str] = []
    if form["budget"] and not unreadable:
        try:
            result = _saved_roadmap(db, saved, notices) if saved else \
                roadmap_service.roadmap(
                    db, budget=values["budget"], horizon=values["horizon"],
                    capacity=values["capacity"], discount_rate=values["discount_rate"],
                    profile=form["profile"] or None,
                    wall_clock_seconds=db.settings.plan_wall_clock_seconds, **constraints)
        except Invalid as exc:
            errors |= _beside_fields(exc.errors, shape)
        except NotFound as exc:
            # The form's profile, removed since the page was loaded: a field to choose again.
            if exc.entity != "weight profile":
                raise
            errors |= {"profile": f"no weight profile called {form['profile']!r}"}
    with db.read() as session:
        roadmaps = [x for x in scenario_service.list_scenarios(session=session)
                    if x["kind"] == "roadmap"]
    grouping = applied["group"] or "organisation"
    chosen = shape["force_in"] + shape["force_out"] + [slug for slug, _ in shape["deadlines"]]
    context: dict[str, Any] = {"form": form, "errors": errors, "profiles": profiles,
                               "shape": shape, "titles": project_titles(db, chosen),
                               "pack_query": _pack_query(form, shape),
                               "profile_options": [(p["name"], p["name"]) for p in profiles],
                               "roadmap": result, "group": grouping, "scenario": saved,
                               "roadmaps": roadmaps, "save_errors": save_errors or {},
                               "save_values": save_values or {}, "notice": " ".join(notices)}
    if result is not None:
        prerequisites: dict[str, list[str]] = {}
        for project, prerequisite in result["dependencies"]:
            prerequisites.setdefault(project, []).append(prerequisite)
        context |= {"tl": timeline(result, group=grouping), "cap": capacity_chart(result),
                    "prerequisites": prerequisites}
    failed = errors or save_errors
    return render(request, "roadmap.html", context, status_code=422 if failed else 200)


def _beside_fields(errors: dict[str, str], shape: dict[str, Any]) -> dict[str, str]:
    """Put a roadmap's refusal of a deadline beside the listed deadlines on the page."""
    if "deadline" not in errors:
        return errors
    field = "deadlines" if shape["deadlines"] else "new_deadline_for"
    return {(field if name == "deadline" else name): text for name, text in errors.items()}


def _saved_roadmap(db: Any, saved: dict[str, Any], notices: list[str]) -> dict[str, Any] | None:
    """Solve a saved roadmap here, or read a worker's solution (noting when it is queued)."""
    if db.queue is None:
        return scenario_service.solve_roadmap(db, saved)
    found = scenario_service.solution(db, scenario_id=saved["id"])
    if found.waiting:
        notices.append(f"“{saved['name']}” is queued: a worker solves it at revision "
                       f"{found.revision}. Reload this page to see the roadmap.")
        return None
    try:
        return dict(found.result()["roadmap"])
    except scenario_service.SolveFailed as exc:
        notices.append(exc.message)
        return None


def _values(errors: dict[str, str], form: dict[str, str]) -> dict[str, Any]:
    """Read the form's numbers, noting a plain-English error beside each bad one."""
    return {
        "budget": _number(errors, "budget", form["budget"],
                          words="a budget in pounds, such as 500000"),
        "horizon": _number(errors, "horizon", form["horizon"], whole=True,
                           words="a whole number of quarters from 1 to 40"),
        "capacity": _number(errors, "capacity", form["capacity"],
                            words="a number of person-months"),
        "discount_rate": _number(errors, "discount_rate", form["discount_rate"],
                                 words="a yearly rate such as 0.035"),
    }


@router.post("/plan/roadmap/scenarios", name="roadmap_scenario_save", dependencies=[SCENARIOS])
def save_roadmap_scenario(request: Request, db: AppDatabase, actor: CurrentActor,
                          posted: MultiForm):
    """Save the roadmap request on the page as a named scenario, then open it."""
    def one(key: str) -> str:
        return (posted.get(key) or [""])[-1]

    fields = ("budget", "horizon", "capacity", "discount_rate", "profile")
    request_form = {k: one(k) for k in fields}
    shape = _shape(posted.get("force_in", []), posted.get("force_out", []),
                   posted.get("deadline_for", []), posted.get("deadline_on", []))
    data = {"kind": "roadmap", "name": one("name"), "description": one("description"),
            **request_form, "force_in": shape["force_in"], "force_out": shape["force_out"],
            "deadlines": dict(shape["deadlines"])}
    try:
        with db.write() as session:
            made = scenario_service.create_scenario(session=session, actor=actor, data=data)
    except Invalid as exc:
        return _render(request, db, {"form": request_form, "shape": shape}, group=None,
                       save_errors=exc.errors, save_values={
                           "name": one("name"), "description": one("description")})
    flash(request, f"Saved the roadmap scenario “{made['name']}”.")
    return RedirectResponse(path_for(request, "roadmap") + f"?scenario={made['id']}", 303)


@router.get("/plan/board-pack.pdf", name="board_pack", dependencies=[READ])
def board_pack(
    request: Request, db: AppDatabase, budget: Text = None, horizon: Text = None,
    capacity: Text = None, discount_rate: Text = None,
    profile: Annotated[str | None, Query(max_length=120)] = None,
    scenario: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    force_in: Slugs = [], force_out: Slugs = [],  # noqa: B006
    deadline_for: Slugs = [], deadline_on: Slugs = [],  # noqa: B006
):
    """Download the board pack: weights, top candidates, the roadmap, blockers and changes."""
    # Of a saved roadmap scenario, its whole request (forced sets and deadlines too).
    from portfolio.services.board_pack import board_pack_data
    from web.board_pack import board_pack_pdf

    opened = _opened(db, scenario) if scenario is not None else None
    form = opened["form"] if opened else {
        "budget": budget or "", "capacity": capacity or "", "horizon": horizon or "",
        "discount_rate": discount_rate or "", "profile": profile or ""}
    shape = opened["shape"] if opened else _shape(force_in, force_out, deadline_for,
                                                   deadline_on)
    errors: dict[str, str] = {}
    constraints = _constraints(db, dict(shape), errors)
    # Read as the page reads its form (`_values`), blanks given the page's defaults.
    values = _values(errors, form | {
        "horizon": form["horizon"].strip() or str(roadmap_service.DEFAULT_HORIZON),
        "discount_rate": (form["discount_rate"].strip()
                          or str(roadmap_service.DEFAULT_DISCOUNT_RATE))})
    if values["budget"] is None and "budget" not in errors:
        errors["budget"] = "enter the budget per quarter for the roadmap"
    # A retired profile is chosen no more, but a saved roadmap keeps the one it was saved with.
    if form["profile"] and not _profile_offered(db, form["profile"], retired_too=bool(opened)):
        errors["profile"] = f"no weight profile called {form['profile']!r}"
    if errors:
        if "text/html" in request.headers.get("accept", ""):
            # The page's own link: answered with the page, each fault beside its field.
            return _render(request, db, (opened or {}) | {"form": form, "sent": True,
                                                          "shape": shape}, group=None)
        raise Invalid(errors)
    today = date.today()
    data = board_pack_data(
        db, today=today, profile=form["profile"] or None,
        wall_clock_seconds=db.settings.plan_wall_clock_seconds, **values, **constraints)
    return Response(board_pack_pdf(data), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="board-pack-{today.isoformat()}.pdf"'})


def _profile_offered(db: Any, name: str, *, retired_too: bool) -> bool:
    """Tell whether a weight profile of this name may be chosen (a retired one if asked)."""
    with db.read() as session:
        return name in {p["name"] for p in profile_service.list_profiles(
            session=session, include_retired=retired_too)}


def _capacity_page(request: Request, actor: Actor | None, *, errors: dict[str, str],
                   form: dict[str, str], status_code: int = 200,
                   title: str = "The capacity was not saved"):
    """Render the capacity page."""
    with get_database(request).read() as session:
        stated = roadmap_service.capacities(session=session)
        organisations = organisation_service.list_organisations(session=session)
    # What the page shows, sent back with the form so a capacity stated since is not replaced.
    read = [[c["organisation"], c["quarter_start"], c["person_months"]] for c in stated]
    return render(request, "capacity.html", {
        "stated": stated, "organisations": organisations, "errors": errors, "form": form,
        "read": json.dumps(read), "title": title,
    }, status_code=status_code)


def _read_capacities(form: dict[str, str]) -> dict[tuple[str, str], float] | None:
    """Return the capacities the page showed, or None for a form that does not say."""
    if "read" not in form:
        return None
    try:
        return {(str(org), str(start)): float(amount)
                for org, start, amount in json.loads(form["read"])}
    except (TypeError, ValueError, RecursionError):
        raise Invalid({"form": "The form is damaged: reload the page and try again."}) from None


@router.get("/plan/capacity", name="capacity", dependencies=[READ])
def capacity_page(request: Request):
    """List each organisation's stated capacity per quarter; the CDO and admins change them."""
    return _capacity_page(request, getattr(request.state, "actor", None), errors={}, form={})


@router.post("/plan/capacity", name="capacity_set", dependencies=[CAPACITY])
def capacity_set(request: Request, actor: CurrentActor,
                 form: FormData):
    """State an organisation's capacity from a quarter on."""
    fields = {k: form.get(k, "").strip() for k in ("organisation", "quarter", "person_months")}
    try:
        if not fields["organisation"]:
            raise Invalid({"organisation": "choose an organisation"})
        read = _read_capacities(form)
        with get_database(request).write() as session:
            roadmap_service.set_capacity(session=session, actor=actor, read=read, **fields)
    except Invalid as exc:
        return _capacity_page(request, actor, errors=exc.errors, form=fields, status_code=422)
    except Conflict as exc:
        # What was typed stays beside the capacity stated meanwhile; the page now shows (and
        # sends back) that one, so saving again replaces it knowingly.
        return _capacity_page(request, actor, form=fields, status_code=409, errors={
            "person_months": f"{sentence(exc.message)} Yours is kept here: save it again to "
                             "replace theirs."})
    return RedirectResponse(request.url_for("capacity").path, status_code=303)


def _number_read(text: str | None) -> float | None:
    """Return the person-months a remove form showed (None when it does not say)."""
    try:
        return float(text) if text else None
    except ValueError:
        raise Invalid({"form": "The form is damaged: reload the page and try again."}) from None


@router.post("/plan/capacity/remove", name="capacity_remove", dependencies=[CAPACITY])
def capacity_remove(request: Request, actor: CurrentActor,
                    form: FormData):
    """Remove a stated capacity."""
    try:
        with get_database(request).write() as session:
            roadmap_service.remove_capacity(session=session, actor=actor,
                                            organisation=form.get("organisation", ""),
                                            quarter=form.get("quarter", ""),
                                            was=_number_read(form.get("was_person_months")))
    except Invalid as exc:
        return _capacity_page(request, actor, errors=exc.errors, form={}, status_code=422,
                              title="The capacity was not removed")
    except Conflict as exc:
        return _capacity_page(request, actor, form={}, status_code=409,
                              title="The capacity was not removed", errors={"form": (
                                  f"{sentence(exc.message)} It is kept: remove it again to "
                                  "remove it as it is now.")})
    return RedirectResponse(request.url_for("capacity").path, status_code=303)
