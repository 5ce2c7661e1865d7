"""Scenarios: saved plan requests, solved at the current revision, explained and compared.

With the job queue (portfolio/jobs.py) a saved scenario is solved by a worker, once per
version of the scenario and portfolio revision; pages read the kept solution (`solution`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, or_, select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.db import Database
from portfolio.errors import Conflict, DomainError, Invalid, NotFound
from portfolio.models import Project, Scenario, ScenarioSolution, WeightProfile, utcnow
from portfolio.schemas import year_month_day
from portfolio.services import planning
from portfolio.services import roadmap as roadmap_service
from portfolio.services.common import add_new, as_record, portfolio_revision, record
from portfolio.services.merge import values_at
from portfolio.text import control_problem, neutralise, typed_amount
from scoring.rounding import shown_score
from scoring.scenarios import (
    PlanSummary,
    compare_plans,
    forced_conflicts,
    left_out,
    required_closure,
)

MAX_COMPARED = 3
MAX_FORCED = 200
REASON_LABELS = {
    "forced_out": "Forced out",
    "prerequisite_out": "Waits on a prerequisite that is out",
    "over_budget": "Over budget",
    "over_capacity": "Over capacity",
    "no_value": "No score",
    "lower_value_per_pound": "Lower value per pound",
    "lower_value_per_person_month": "Lower value per person-month",
    "within_gap": "Not reached by the solver",
}


def _slugs(raw: Any, field: str) -> list[str]:
    """Read a forced set: a list of slugs, or text with slugs separated by commas or spaces."""
    if raw is None or raw == "":
        return []
    items = raw.replace(",", " ").split() if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise Invalid({field: "must be a list of project slugs"})
    out = list(dict.fromkeys(s.strip() for s in items if s.strip()))
    if len(out) > MAX_FORCED:
        raise Invalid({field: f"at most {MAX_FORCED} projects"})
    return out


def _number(raw: Any, field: str, what: str) -> float:
    """Read a non-negative finite number, naming the field when it is not one."""
    try:
        text = typed_amount(str(raw).strip() if raw is not None else "")
    except ValueError as exc:
        raise Invalid({field: str(exc)}) from None
    try:
        value = float(text)
    except ValueError:
        raise Invalid({field: f"{what} must be a number"}) from None
    # The plan's own check, so the page and the API refuse an amount in the same words.
    return planning.finite_amount(value, field, what)


KINDS = ("plan", "roadmap")
# What only a roadmap takes: a plan sent one is refused in these words, not saved without it.
ROADMAP_ONLY = {
    "horizon": "a plan has no horizon: send kind roadmap for one, or leave it out",
    "discount_rate": "a plan has no discount rate: send kind roadmap for one, or leave it out",
    "deadlines": "a plan has no deadlines: send kind roadmap for them, or leave them out",
}


def checked_request(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a plan or roadmap request, naming each bad field.

    A plan takes a budget, a capacity, a profile and forced sets (and refuses the roadmap's
    fields); a roadmap takes a budget per quarter, an optional overall capacity per quarter, a
    horizon, a discount rate and mandatory projects' deadlines besides.
    """
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"kind": str(data.get("kind") or "plan").strip()}
    if out["kind"] not in KINDS:
        errors["kind"] = "choose plan or roadmap"
    roadmap = out["kind"] == "roadmap"
    try:
        out["budget"] = _number(data.get("budget"), "budget",
                                "the budget per quarter" if roadmap else "the budget")
    except Invalid as exc:
        errors |= exc.errors
    try:
        blank = data.get("capacity") in (None, "")
        if blank and not roadmap:
            raise Invalid({"capacity": "a plan needs a capacity in person-months; only a "
                                       "roadmap may leave it out"})
        out["capacity"] = None if blank else _number(
            data.get("capacity"), "capacity", "the capacity")
    except Invalid as exc:
        errors |= exc.errors
    if roadmap:
        errors |= _roadmap_fields(session, data, out)
    elif out["kind"] == "plan":
        errors |= {field: refusal for field, refusal in ROADMAP_ONLY.items()
                   if data.get(field) not in (None, "", {})}
    for field in ("force_in", "force_out"):
        try:
            out[field] = _slugs(data.get(field), field)
        except Invalid as exc:
            errors |= exc.errors
            out[field] = []
    known: set[str] = set(session.execute(select(col(Project.slug)).where(
        col(Project.slug).in_(out["force_in"] + out["force_out"]))).scalars())
    for field in ("force_in", "force_out"):
        unknown = [s for s in out[field] if s not in known]
        if unknown and field not in errors:
            errors[field] = f"no project called {', '.join(unknown)}"
    both = set(out["force_in"]) & set(out["force_out"])
    if both and "force_out" not in errors:
        errors["force_out"] = f"forced both in and out: {', '.join(sorted(both))}"
    profile = (data.get("profile") or "").strip() or None
    if profile is not None and session.execute(
            select(col(WeightProfile.id))
            .where(col(WeightProfile.name) == profile)).first() is None:
        errors["profile"] = f"no weight profile called {profile!r}"
    out["profile"] = profile
    if errors:
        raise Invalid(errors)
    return out


def _roadmap_fields(session: Session, data: dict[str, Any], out: dict[str, Any]) -> dict[str, str]:
    """Read a roadmap's horizon, discount rate and deadlines into `out`; return the problems."""
    errors: dict[str, str] = {}
    horizon = data.get("horizon")
    try:
        out["horizon"] = int(str(roadmap_service.DEFAULT_HORIZON if horizon in (None, "")
                                 else horizon).strip())
    except ValueError:
        out["horizon"] = None
    if out["horizon"] is None or not 1 <= out["horizon"] <= roadmap_service.MAX_HORIZON:
        errors["horizon"] = (f"the horizon must be a whole number of quarters from 1 to "
                             f"{roadmap_service.MAX_HORIZON}")
    rate = data.get("discount_rate")
    try:
        out["discount_rate"] = _number(roadmap_service.DEFAULT_DISCOUNT_RATE
                                       if rate in (None, "") else rate,
                                       "discount_rate", "the discount rate")
        if out["discount_rate"] >= 1:
            errors["discount_rate"] = "the discount rate is a yearly rate below 1, such as 0.035"
    except Invalid as exc:
        errors |= exc.errors
    try:
        out["deadlines"] = _deadlines(session, data.get("deadlines"))
    except Invalid as exc:
        errors |= exc.errors
        out["deadlines"] = {}
    return errors


def _deadlines(session: Session, raw: Any) -> dict[str, str]:
    """Read mandatory projects' latest starts: {slug: YYYY-MM-DD}, or text `slug:date` items."""
    if raw in (None, "", {}):
        return {}
    items = dict(part.split(":", 1) for part in str(raw).replace(",", " ").split()
                 if ":" in part) if isinstance(raw, str) else raw
    if not isinstance(items, dict) or (isinstance(raw, str) and not items):
        raise Invalid({"deadlines": "write each deadline as SLUG:YYYY-MM-DD"})
    days: dict[str, date] = {}
    for slug, when in items.items():
        try:
            days[str(slug)] = year_month_day(str(when))
        except ValueError:
            raise Invalid({"deadlines": f"{slug}: give the date as YYYY-MM-DD"}) from None
    for _kind, problem in roadmap_service.deadline_problems(session, days).values():
        raise Invalid({"deadlines": problem})
    return {slug: day.isoformat() for slug, day in days.items()}


def scenario_public(session: Session, row: Scenario) -> dict[str, Any]:
    """Return the public shape of a scenario (the request, not its solution)."""
    profile = session.get(WeightProfile, row.profile_id) if row.profile_id else None
    return {
        "id": row.id, "name": row.name, "description": row.description, "kind": row.kind,
        "profile": profile.name if profile else None, "budget": row.budget_gbp,
        "capacity": row.capacity_pm, "horizon": row.horizon,
        "discount_rate": row.discount_rate, "deadlines": dict(row.deadlines or {}),
        "force_in": list(row.force_in),
        "force_out": list(row.force_out), "version": row.version,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def list_scenarios(*, session: Session) -> list[dict[str, Any]]:
    """List the saved scenarios, by name."""
    rows: list[Scenario] = list(session.execute(
        select(Scenario).order_by(col(Scenario.name))).scalars())
    return [scenario_public(session, row) for row in rows]


def _row(session: Session, scenario_id: int, *, for_update: bool = False) -> Scenario:
    query = select(Scenario).where(col(Scenario.id) == scenario_id)
    if for_update:
        # Locked to the commit: a change waiting on another's compares its version with that
        # one's (FOR NO KEY UPDATE: its kept solutions may still be stored meanwhile).
        query = query.with_for_update(key_share=True)
    row = session.execute(query).scalars().first()
    if row is None:
        raise NotFound("scenario", scenario_id)
    return row


def _version(data: dict[str, Any]) -> int | None:
    """Return the version a change was made from, if it says."""
    if data.get("version") in (None, ""):
        return None
    try:
        return int(str(data["version"]))
    except ValueError:
        raise Invalid({"version": "the version must be a whole number"}) from None


def _stale(session: Session, row: Scenario, version: int) -> Conflict:
    """Return the refusal of a change from an older version, naming what changed since."""
    current = scenario_public(session, row)
    was = values_at(session, entity="scenario", entity_id=row.id, version=version,
                    current=current)
    changed = {name: value for name, value in current.items()
               if name not in ("version", "created_at", "updated_at") and was.get(name) != value}
    return Conflict("the scenario changed since you read it", current=current, changed=changed)


def get_scenario(*, session: Session, scenario_id: int) -> dict[str, Any]:
    """Return one saved scenario."""
    return scenario_public(session, _row(session, scenario_id))


def _name(session: Session, data: dict[str, Any], own_id: int | None) -> str:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 120:
        raise Invalid({"name": "give the scenario a name of 1 to 120 characters"})
    if problem := control_problem(name):
        raise Invalid({"name": f"a name {problem}"})
    clash = session.execute(select(col(Scenario.id)).where(col(Scenario.name) == name)).scalar()
    if clash is not None and clash != own_id:
        raise Invalid(_name_taken(name))
    return name


DESCRIPTION_LIMIT = 2000


def _name_taken(name: str) -> dict[str, str]:
    """Return the refusal of a name another scenario has."""
    return {"name": f"a scenario named {name!r} already exists"}


# What a change of only a scenario's words sends: its request is not read again.
WORDS_ONLY = frozenset({"name", "description", "version"})


def _apply(session: Session, row: Scenario, data: dict[str, Any], own_id: int | None, *,
           request_too: bool = True) -> None:
    """Set a scenario's name, description and (with `request_too`) its checked request."""
    errors: dict[str, str] = {}
    try:
        row.name = _name(session, data, own_id)
    except Invalid as exc:
        errors |= exc.errors
    try:
        request = checked_request(session, data) if request_too else None
    except Invalid as exc:
        raise Invalid(errors | exc.errors) from None
    if errors:
        raise Invalid(errors)
    description = str(data.get("description") or "")
    if problem := control_problem(description, multiline=True):
        raise Invalid({"description": f"the description {problem}"})
    if len(description) > DESCRIPTION_LIMIT:
        # As the API's own check says it: never cut short without a word.
        raise Invalid({"description": f"Keep this under {DESCRIPTION_LIMIT:,} characters "
                                      f"(it has {len(description):,})."})
    row.description = description
    if request is None:
        return
    row.kind = request["kind"]
    row.budget_gbp, row.capacity_pm = request["budget"], request["capacity"]
    row.horizon = request.get("horizon")
    row.discount_rate = request.get("discount_rate")
    row.deadlines = request.get("deadlines") or None
    row.force_in, row.force_out = request["force_in"], request["force_out"]
    row.profile_id = (session.execute(select(col(WeightProfile.id)).where(
        WeightProfile.name == request["profile"])).scalar() if request["profile"] else None)


def create_scenario(*, session: Session, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """Save a plan request under a name."""
    require(actor, Capability.MANAGE_SCENARIOS)
    row = Scenario(name="", budget_gbp=0, capacity_pm=0, created_by_id=actor.id)
    _apply(session, row, data, None)
    add_new(session, row, taken=_name_taken(row.name))
    after = scenario_public(session, row)
    record(session, actor, action="create", entity="scenario", entity_id=row.id, after=after)
    return after


def update_scenario(*, session: Session, actor: Actor, scenario_id: int,
                    data: dict[str, Any]) -> dict[str, Any]:
    """Change a saved scenario; a stale `version` is refused with what changed."""
    require(actor, Capability.MANAGE_SCENARIOS)
    row = _row(session, scenario_id, for_update=True)
    before = scenario_public(session, row)
    version = _version(data)
    if version is not None and version != row.version:
        raise _stale(session, row, version)
    merged = {**before, **data}
    if merged.get("kind") != "roadmap":
        # A roadmap made a plan leaves the roadmap fields it had; only those sent are refused.
        merged = {k: v for k, v in merged.items() if k in data or k not in ROADMAP_ONLY}
    # A rename keeps the request as saved, even one the portfolio has moved past since (a
    # deadline now behind, a profile removed): only a change of the request checks it again.
    _apply(session, row, merged, row.id, request_too=not set(data) <= WORDS_ONLY)
    row.version += 1
    row.updated_at = utcnow()
    add_new(session, row, taken=_name_taken(row.name))  # a rename to a name taken meanwhile
    after = scenario_public(session, row)
    record(session, actor, action="update", entity="scenario", entity_id=row.id,
           before=before, after=after)
    return after


def delete_scenario(*, session: Session, actor: Actor, scenario_id: int,
                    version: int | None = None) -> None:
    """Delete a saved scenario; given the version read, one changed since is kept (409)."""
    require(actor, Capability.MANAGE_SCENARIOS)
    row = _row(session, scenario_id, for_update=True)
    if version is not None and version != row.version:
        raise _stale(session, row, version)
    before = as_record(row)
    session.delete(row)
    record(session, actor, action="delete", entity="scenario", entity_id=scenario_id,
           before=before)


def explained_plan(db: Database, *, budget: float, capacity: float, profile: str | None = None,
                   force_in: Sequence[str] = (), force_out: Sequence[str] = ()) -> dict[str, Any]:
    """Solve a plan and explain it: waves with cost, effort, score and the mandatory flag;
    each candidate left out with why; for an infeasible request, the projects responsible."""
    result = planning.plan(db, budget=budget, capacity=capacity, profile=profile,
                                 force_in=force_in, force_out=force_out,
                                 wall_clock_seconds=db.settings.plan_wall_clock_seconds)
    _run, projects, dependencies = planning.plan_candidates(db, profile)
    by_slug = projects.set_index(projects["slug"].astype(str))

    def facts(slug: str) -> dict[str, Any]:
        value = by_slug.at[slug, "value"]
        return {"slug": slug, "title": str(by_slug.at[slug, "title"]),
                "cost_gbp": float(by_slug.at[slug, "cost_gbp"]),
                "effort_pm": float(by_slug.at[slug, "effort_pm"]),
                "score": None if value is None or math.isnan(value) else shown_score(float(value)),
                "mandatory": bool(by_slug.at[slug, "mandatory"]),
                "forced_in": slug in force_in}

    waves: list[dict[str, Any]] = [{"number": n + 1, "projects": [facts(s) for s in wave]}
             for n, wave in enumerate(result["waves"])]
    for wave in waves:
        wave["cost_gbp"] = sum(p["cost_gbp"] for p in wave["projects"])
        wave["effort_pm"] = sum(p["effort_pm"] for p in wave["projects"])
    conflicts = [{"forced_in": a, "forced_out": b, "text": (
        f"{by_slug.at[a, 'title']} is forced in but waits on {by_slug.at[b, 'title']}, "
        "which is forced out")} for a, b in forced_conflicts(dependencies, force_in, force_out)]
    responsible: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    if result["status"] == "infeasible":
        responsible = [{**facts(r.slug), "because": r.because}
                       for r in required_closure(projects, dependencies, force_in)]
    else:
        left = [{**facts(item.slug), "reason": item.reason,
                 "reason_label": REASON_LABELS[item.reason], "detail": item.detail,
                 "prerequisites": list(item.prerequisites)}
                for item in left_out(projects, dependencies, result["selected"], budget=budget,
                                     capacity=capacity, force_in=force_in, force_out=force_out)]
        order = {reason: n for n, reason in enumerate(REASON_LABELS)}
        left.sort(key=lambda r: (order[r["reason"]], -(r["score"] or 0)))
    return {**result, "budget": budget, "capacity": capacity, "force_in": list(force_in),
            "force_out": list(force_out), "wave_rows": waves, "left_out": left,
            "responsible": responsible, "conflicts": conflicts,
            "responsible_cost": sum(r["cost_gbp"] for r in responsible),
            "responsible_effort": sum(r["effort_pm"] for r in responsible)}


def solve_scenario(db: Database, *, scenario_id: int) -> dict[str, Any]:
    """Re-solve a saved scenario at the current portfolio revision (a plan or a roadmap)."""
    with db.read() as session:
        scenario = get_scenario(session=session, scenario_id=scenario_id)
    if scenario["kind"] == "roadmap":
        return {"scenario": scenario, "roadmap": solve_roadmap(db, scenario)}
    plan = explained_plan(db, budget=scenario["budget"], capacity=scenario["capacity"],
                          profile=scenario["profile"], force_in=scenario["force_in"],
                          force_out=scenario["force_out"])
    return {"scenario": scenario, "plan": plan}


def solve_roadmap(db: Database, scenario: dict[str, Any]) -> dict[str, Any]:
    """Solve a saved roadmap scenario's request at the current revision."""
    return roadmap_service.roadmap(
        db, budget=scenario["budget"], horizon=scenario["horizon"] or
        roadmap_service.DEFAULT_HORIZON, profile=scenario["profile"],
        capacity=scenario["capacity"], discount_rate=scenario["discount_rate"] or 0.0,
        wall_clock_seconds=db.settings.plan_wall_clock_seconds, **roadmap_constraints(scenario))


def roadmap_constraints(scenario: dict[str, Any]) -> dict[str, Any]:
    """Return a saved roadmap's forced sets and deadlines, as the roadmap takes them."""
    return {"force_in": tuple(scenario["force_in"]), "force_out": tuple(scenario["force_out"]),
            "deadlines": {s: date.fromisoformat(d) for s, d in scenario["deadlines"].items()}}


class SolveQueued(DomainError):
    """A saved scenario waits for a worker to solve it at this revision."""

    status_code = 503
    retry_after = 5


class SolveFailed(DomainError):
    """A worker gave up solving a saved scenario (its error is on the admins' jobs page)."""

    status_code = 503


@dataclass
class Solution:
    """A saved scenario solved at a revision, or word that a worker is solving it."""

    scenario: dict[str, Any]
    revision: int
    # What `solve_scenario` returns; None while a worker solves it.
    solved: dict[str, Any] | None = None
    job: int | None = None
    gave_up: bool = False

    @property
    def waiting(self) -> bool:
        """Tell whether the scenario is queued for (or being solved by) a worker."""
        return self.solved is None and not self.gave_up

    def result(self) -> dict[str, Any]:
        """Return what `solve_scenario` gives; raise what the solve refused or why it waits."""
        if self.gave_up:
            # Anyone who may read the scenario reads this; the error's text is for admins.
            raise SolveFailed(f"solving “{self.scenario['name']}” failed on every attempt; "
                              "an admin can see why on the background jobs page")
        if self.solved is None:
            raise SolveQueued(f"“{self.scenario['name']}” is queued: a worker solves it")
        if "refused" in self.solved:
            raise Invalid(self.solved["refused"])
        return self.solved


def solution(db: Database, *, scenario_id: int) -> Solution:
    """Solve a saved scenario at the current revision: here, or on the job queue once."""
    if db.queue is None:
        solved = solve_scenario(db, scenario_id=scenario_id)
        return Solution(solved["scenario"], portfolio_revision(db), solved)
    with db.read() as session:
        scenario = get_scenario(session=session, scenario_id=scenario_id)
        revision = portfolio_revision(db)
        kept = session.get(ScenarioSolution, (scenario_id, scenario["version"], revision))
        if kept is not None:
            return Solution(scenario, revision, dict(kept.result))
    job, gave_up = db.queue.solve(scenario_id, scenario["version"], revision)
    return Solution(scenario, revision, job=job, gave_up=gave_up)


def store_solution(db: Database, *, scenario_id: int) -> str:
    """Solve a saved scenario at the current revision and keep the solution (a worker's job)."""
    revision = portfolio_revision(db)
    with db.read() as session:
        row = session.get(Scenario, scenario_id)
        if row is None:
            return f"scenario {scenario_id} was deleted before it was solved"
        if session.get(ScenarioSolution, (scenario_id, row.version, revision)) is not None:
            return f"scenario {scenario_id} was already solved at revision {revision}"
    try:
        solved = solve_scenario(db, scenario_id=scenario_id)
    except NotFound:
        return f"scenario {scenario_id} was deleted before it was solved"
    except Invalid as exc:
        # A request the portfolio cannot meet (a roadmap's horizon): the page shows why.
        with db.read() as session:
            solved = {"scenario": get_scenario(session=session, scenario_id=scenario_id),
                      "refused": dict(exc.errors)}
    version = solved["scenario"]["version"]
    with db.write() as session:
        if session.get(ScenarioSolution, (scenario_id, version, revision)) is None:
            # Only the newest solution of a scenario is read again.
            session.execute(delete(ScenarioSolution).where(
                col(ScenarioSolution.scenario_id) == scenario_id,
                or_(col(ScenarioSolution.revision) < revision,
                    col(ScenarioSolution.scenario_version) < version)))
            session.add(ScenarioSolution(scenario_id=scenario_id, scenario_version=version,
                                         revision=revision, result=solved))
    return f"scenario {scenario_id} (version {version}) solved at revision {revision}"


def compare_scenarios(db: Database, *, scenario_ids: Sequence[int]) -> dict[str, Any]:
    """Solve two or three scenarios and say what each adds and drops against the first."""
    ids = list(dict.fromkeys(scenario_ids))
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise Invalid({"scenarios": f"choose two or three different scenarios, not {len(ids)}"})
    with db.read() as session:
        kinds = {get_scenario(session=session, scenario_id=i)["kind"] for i in ids}
    if len(kinds) > 1:
        raise Invalid({"scenarios": "compare plans with plans and roadmaps with roadmaps"})
    # Every one is asked for before any is read, so a worker can solve them all at once.
    solutions = [solution(db, scenario_id=i) for i in ids]
    solved = [found.result() for found in solutions]
    if kinds == {"roadmap"}:
        return compare_roadmaps(solved)
    summaries = [PlanSummary(s["scenario"]["name"], frozenset(s["plan"]["selected"]),
                             s["plan"]["objective"], s["plan"]["budget_used"],
                             s["plan"]["capacity_used"]) for s in solved]
    titles: dict[str, str] = {}
    for s in solved:
        for wave in s["plan"]["wave_rows"]:
            titles.update({p["slug"]: p["title"] for p in wave["projects"]})
    differences = compare_plans(summaries)
    return {"kind": "plan", "scenarios": solved, "titles": titles, "differences": [
        {"name": d.name, "adds": list(d.adds), "drops": list(d.drops),
         "only_here": list(d.only_here), "objective_change": d.objective_change,
         "cost_change": d.cost_change, "effort_change": d.effort_change}
        for d in differences]}


def compare_roadmaps(solved: list[dict[str, Any]]) -> dict[str, Any]:
    """Say, against the first roadmap, what each starts that it does not, drops, and moves."""
    starts = [{p["slug"]: p["start"] for p in s["roadmap"]["starts"]} for s in solved]
    titles = {p["slug"]: p["title"] for s in solved for p in s["roadmap"]["starts"]}
    first, base = solved[0]["roadmap"], starts[0]
    differences = []
    for item, mine in zip(solved, starts, strict=True):
        road = item["roadmap"]
        differences.append({
            "name": item["scenario"]["name"],
            "adds": sorted(set(mine) - set(base)), "drops": sorted(set(base) - set(mine)),
            "moves": [{"slug": s, "from": base[s], "to": mine[s]}
                      for s in sorted(set(mine) & set(base)) if mine[s] != base[s]],
            "value_change": round(road["value"] - first["value"], 4),
            "cost_change": round(sum(road["budget_used"]) - sum(first["budget_used"]), 2),
        })
    return {"kind": "roadmap", "scenarios": solved, "titles": titles,
            "differences": differences}


PLAN_COLUMNS = ("wave", "slug", "title", "score", "cost_gbp", "effort_pm", "mandatory",
                "forced_in")


def plan_rows(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a plan's chosen projects as export rows, wave by wave."""
    return [{"wave": wave["number"], **{k: p[k] for k in PLAN_COLUMNS if k != "wave"}}
            for wave in plan["wave_rows"] for p in wave["projects"]]


def plan_csv(plan: dict[str, Any]) -> bytes:
    """Write a plan as CSV: one row per chosen project, in waves."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(PLAN_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in plan_rows(plan):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    """Return a cell as a spreadsheet shows it, never runs it (text through `neutralise`)."""
    return neutralise(value) if isinstance(value, str) else value


def plan_xlsx(plan: dict[str, Any]) -> bytes:
    """Write a plan as an XLSX workbook: the chosen projects, then the ones left out and why."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Plan"
    sheet.append(list(PLAN_COLUMNS))
    for row in plan_rows(plan):
        sheet.append([_cell(row[k]) for k in PLAN_COLUMNS])
    left = book.create_sheet("Left out")
    left.append(["slug", "title", "score", "cost_gbp", "effort_pm", "reason", "detail"])
    for r in plan["left_out"]:
        left.append([_cell(r[k]) for k in
                     ("slug", "title", "score", "cost_gbp", "effort_pm", "reason_label",
                      "detail")])
    about = book.create_sheet("About")
    for key in ("profile", "revision", "status", "budget", "capacity", "objective",
                "budget_used", "capacity_used"):
        about.append([key, _cell(plan.get(key))])
    about.append(["force_in", _cell(", ".join(plan["force_in"]))])
    about.append(["force_out", _cell(", ".join(plan["force_out"]))])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


