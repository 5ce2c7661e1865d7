"""The roadmap: candidates' start quarters within each quarter's budget and each team's capacity."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any, cast

import pandas as pd
from sqlalchemy import delete, select
from sqlmodel import Session, col

from portfolio.actors import Actor
from portfolio.capabilities import Capability, require
from portfolio.db import Database
from portfolio.errors import Conflict, Invalid
from portfolio.models import Organisation, OrganisationCapacity, Project
from portfolio.schemas import EARLIEST, LATEST
from portfolio.services.common import consistent_read, organisation_by_code, record
from portfolio.services.planning import project_values, solve_limit
from portfolio.services.ranking import ensure_ranking, portfolio_frames
from scoring.graph import DependencyCycleError
from scoring.roadmap import (
    DEFAULT_HORIZON,
    MAX_HORIZON,
    InvalidRoadmapRequest,
    RoadmapResult,
    Start,
    plan_roadmap,
    project_duration,
    quarter_index,
    quarter_label,
    quarter_start,
    run_roadmap_in_subprocess,
)
from scoring.scenarios import forced_conflicts

# HM Treasury Green Book's social time preference rate: value started a year later counts 3.5% less.
DEFAULT_DISCOUNT_RATE = 0.035
# Above this many candidates the solve runs in a process with a hard wall clock.
SUBPROCESS_ABOVE = 500


def parse_quarter(text: str, *, field: str = "quarter") -> date:
    """Read a quarter written "2027 Q1", "2027-Q1" or as a date inside it; return its first day."""
    cleaned = text.strip().upper().replace("-", " ").replace("/", " ")
    parts = cleaned.split()
    try:
        if len(parts) == 2 and parts[1].startswith("Q"):
            year, q = int(parts[0]), int(parts[1][1:])
            if not 1 <= q <= 4:
                raise ValueError
            return date(year, 3 * (q - 1) + 1, 1)
        return quarter_start(date.fromisoformat(text.strip()))
    except ValueError:
        raise Invalid({field: f"{text!r} is not a quarter (write it like 2027 Q1)"}) from None


def capacities(*, session: Session) -> list[dict[str, Any]]:
    """List the stated capacities: organisation, quarter from which it holds, person-months."""
    rows = cast(list[tuple[str, str, date, float]], session.execute(
        select(col(Organisation.code), col(Organisation.name),
               col(OrganisationCapacity.quarter_start), col(OrganisationCapacity.person_months))
        .join(Organisation, col(Organisation.id) == col(OrganisationCapacity.organisation_id))
        .order_by(col(Organisation.name), col(OrganisationCapacity.quarter_start))
    ).all())
    return [{"organisation": code, "organisation_name": name,
             "quarter": quarter_label(start, 0), "quarter_start": start.isoformat(),
             "person_months": float(pm)} for code, name, start, pm in rows]


# The most person-months a quarter's capacity may state (the API's bound too).
MAX_PERSON_MONTHS = 1_000_000


def set_capacity(*, session: Session, actor: Actor, organisation: str, quarter: str,
                 person_months: Any, read: Mapping[tuple[str, str], float] | None = None
                 ) -> dict[str, Any]:
    """State an organisation's capacity from a quarter on, unless changed since the `read` one."""
    # `read`: the capacities the user saw, by (organisation code, quarter start ISO).
    require(actor, Capability.SET_CAPACITY)
    org = organisation_by_code(session, organisation)
    start = parse_quarter(quarter)
    try:
        amount = float(person_months)
    except (TypeError, ValueError):
        raise Invalid({"person_months": "enter a number of person-months"}) from None
    if not math.isfinite(amount) or amount < 0:
        raise Invalid({"person_months": "capacity must be a number of person-months of at "
                                        "least 0"})
    if amount > MAX_PERSON_MONTHS:
        raise Invalid({"person_months": f"capacity must be {MAX_PERSON_MONTHS:,} "
                                        "person-months or less"})
    if not EARLIEST.year <= start.year <= LATEST.year:
        raise Invalid({"quarter": f"enter a quarter between {EARLIEST.year} and "
                                  f"{LATEST.year} (you entered {quarter.strip()})"})
    _lock_capacities(session, org)
    row = session.execute(select(OrganisationCapacity).where(
        col(OrganisationCapacity.organisation_id) == org.id,
        col(OrganisationCapacity.quarter_start) == start)).scalars().first()
    if read is not None:
        _require_as_read(org, start, row, read.get((org.code, start.isoformat())))
    before = None if row is None else {"person_months": row.person_months}
    if row is None:
        row = OrganisationCapacity(organisation_id=int(org.id or 0), quarter_start=start,
                                   person_months=amount)
    else:
        row.person_months = amount
    session.add(row)
    session.flush()
    record(session, actor, action="create" if before is None else "update",
           entity="organisation_capacity", entity_id=row.id, before=before,
           after={"organisation": org.code, "quarter": quarter_label(start, 0),
                  "person_months": amount})
    return {"organisation": org.code, "organisation_name": org.name,
            "quarter": quarter_label(start, 0), "quarter_start": start.isoformat(),
            "person_months": amount}


def _lock_capacities(session: Session, org: Organisation) -> None:
    """Lock an organisation's capacities to the commit (through its row), so a capacity stated
    or removed twice at once finds the other's: an update or "none stated", never a 500."""
    session.execute(select(col(Organisation.id)).where(col(Organisation.id) == org.id)
                    .with_for_update(key_share=True))


def _require_as_read(org: Organisation, start: date, row: OrganisationCapacity | None,
                     was: float | None) -> None:
    """Refuse a change made from a reading (`was`, None for none stated) no longer true."""
    now = None if row is None else float(row.person_months)
    if now == was:
        return
    said = "none" if now is None else f"{now:g} person-months"
    raise Conflict(f"{org.name}'s capacity from {quarter_label(start, 0)} was changed by "
                   f"someone else since you read it: it is now {said}",
                   current={"organisation": org.code, "quarter": quarter_label(start, 0),
                            "person_months": now})


def remove_capacity(*, session: Session, actor: Actor, organisation: str, quarter: str,
                    was: float | None = None) -> None:
    """Remove a stated capacity, unless restated since `was`; the one before it then holds on."""
    require(actor, Capability.SET_CAPACITY)
    org = organisation_by_code(session, organisation)
    start = parse_quarter(quarter)
    _lock_capacities(session, org)
    row = session.execute(select(OrganisationCapacity).where(
        col(OrganisationCapacity.organisation_id) == org.id,
        col(OrganisationCapacity.quarter_start) == start)).scalars().first()
    if row is None:
        raise Invalid({"quarter": f"no capacity is stated for {org.name} from "
                                  f"{quarter_label(start, 0)}"})
    if was is not None:
        _require_as_read(org, start, row, was)
    record(session, actor, action="delete", entity="organisation_capacity", entity_id=row.id,
           before={"organisation": org.code, "quarter": quarter_label(start, 0),
                   "person_months": row.person_months})
    session.execute(delete(OrganisationCapacity).where(OrganisationCapacity.id == row.id))


def capacity_by_quarter(stated: list[tuple[str, date, float]], first: date,
                        horizon: int) -> dict[str, list[float | None]]:
    """Return each organisation's capacity per quarter: the latest stated from or before it.

    Quarters before an organisation's first stated capacity are unconstrained (None).
    """
    by_org: dict[str, list[tuple[int, float]]] = {}
    for code, start, amount in stated:
        by_org.setdefault(code, []).append((quarter_index(start, first), float(amount)))
    out: dict[str, list[float | None]] = {}
    for code, rows in sorted(by_org.items()):
        rows.sort()
        row: list[float | None] = [None] * horizon
        for q in range(horizon):
            held = [amount for since, amount in rows if since <= q]
            row[q] = held[-1] if held else None
        out[code] = row
    return out


def roadmap(
    db: Database, *, budget: float, horizon: int = DEFAULT_HORIZON, profile: str | None = None,
    capacity: float | None = None, discount_rate: float = DEFAULT_DISCOUNT_RATE,
    deadlines: Mapping[str, date] | None = None, today: date | None = None,
    wall_clock_seconds: float = 60.0, force_in: tuple[str, ...] = (),
    force_out: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Choose which candidates start in which quarter over the horizon, within the limits.

    A candidate forced in must start within the horizon (as a mandatory one without a
    deadline); one forced out does not start (DESIGN.md, "Saved roadmap scenarios").
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or \
            not 1 <= horizon <= MAX_HORIZON:
        raise Invalid({"horizon": f"the horizon must be from 1 to {MAX_HORIZON} quarters"})
    solve_limit(wall_clock_seconds)
    today = today or date.today()
    if not EARLIEST <= today <= LATEST:
        raise Invalid({"today": f"plan as on a day between {EARLIEST.year} and {LATEST.year}"})
    run = ensure_ranking(db, profile)
    # A stored run belongs to one revision, and any write (capacities too) moves the revision:
    # a roadmap kept under the run and the request is current.
    key = ("roadmap", run.id, float(budget), horizon, capacity, float(discount_rate),
           tuple(sorted((deadlines or {}).items())), today, tuple(sorted(force_in)),
           tuple(sorted(force_out)))
    found = db.memo.get(key)
    if found is not None:
        return found
    result = _roadmap(db, run, budget=budget, horizon=horizon, capacity=capacity,
                      discount_rate=discount_rate, deadlines=deadlines or {}, today=today,
                      wall_clock_seconds=wall_clock_seconds, force_in=force_in,
                      force_out=force_out)
    # A solve stopped by the clock may finish next time: only a settled answer is kept.
    return result if result["status"] == "time_limit" else db.memo.put(key, result)


def _roadmap(db: Database, run: Any, *, budget: float, horizon: int, capacity: float | None,
             discount_rate: float, deadlines: Mapping[str, date], today: date,
             wall_clock_seconds: float, force_in: tuple[str, ...] = (),
             force_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read the portfolio at a stored run and solve the roadmap."""
    first = quarter_start(today)
    with db.read() as session:
        consistent_read(session)
        frames = portfolio_frames(db, session)
        values = project_values(session, run)
        dated = cast(list[tuple[str, date | None, date | None]], session.execute(
            select(col(Project.slug), col(Project.start_date), col(Project.end_date))).all())
        dates = {slug: (s, e) for slug, s, e in dated}
        stated = [(c, s, float(pm)) for c, s, pm in cast(
            list[tuple[str, date, float]], session.execute(
                select(col(Organisation.code), col(OrganisationCapacity.quarter_start),
                       col(OrganisationCapacity.person_months))
                .join(Organisation,
                      col(Organisation.id) == col(OrganisationCapacity.organisation_id))).all())]
    projects = frames.projects.assign(value=values.reindex(frames.projects["slug"]).to_numpy())
    _check_known(set(projects["slug"]), force_in, force_out)
    table = _roadmap_table(projects, dates, first, deadlines, today)
    _check_forced(table, frames.dependencies, force_in, force_out, horizon)
    table = forced(table, force_in, force_out)
    labels = [quarter_label(first, i) for i in range(horizon)]
    kwargs: dict[str, Any] = {
        "horizon": horizon, "budget": budget, "total_capacity": capacity,
        "capacity": capacity_by_quarter(stated, first, horizon),
        "discount_rate": discount_rate, "quarters": labels,
        "time_limit": wall_clock_seconds * 0.8,
    }
    selectable = table["status"].isin(CANDIDATE_STATUSES).sum()
    try:
        if selectable > SUBPROCESS_ABOVE:
            result = run_roadmap_in_subprocess(table, frames.dependencies,
                                               wall_clock_seconds=wall_clock_seconds, **kwargs)
        else:
            result = plan_roadmap(table, frames.dependencies, **kwargs)
    except InvalidRoadmapRequest as exc:
        raise Invalid({exc.field: str(exc)}) from None
    except DependencyCycleError as exc:
        raise Invalid({"dependencies": str(exc)}) from None
    public = roadmap_public(result, run_profile=run.profile, revision=run.revision, first=first,
                            projects=projects, organisations=frames.organisations,
                            dependencies=frames.dependencies, today=today)
    # The request's own shaping, said back as the plan says its forced sets.
    return public | {"force_in": sorted(force_in), "force_out": sorted(force_out),
                     "deadlines": {s: d.isoformat() for s, d in sorted(deadlines.items())}}


CANDIDATE_STATUSES = ("idea", "proposed", "approved", "paused")


def forced(table: pd.DataFrame, force_in: tuple[str, ...],
           force_out: tuple[str, ...]) -> pd.DataFrame:
    """Make candidates forced in mandatory (start within the horizon) and drop those forced out."""
    if not force_in and not force_out:
        return table
    candidate = table["status"].isin(CANDIDATE_STATUSES)
    out = table.copy()
    out.loc[candidate & out["slug"].isin(force_in), "mandatory"] = True
    # Forced out: no longer a candidate (as a rejected project, for this roadmap only).
    out.loc[candidate & out["slug"].isin(force_out), "status"] = "rejected"
    return out


def _check_forced(table: pd.DataFrame, dependencies: pd.DataFrame, force_in: tuple[str, ...],
                  force_out: tuple[str, ...], horizon: int) -> None:
    """Refuse a forced set the roadmap cannot honour as asked, naming the field and project.

    Only candidates are forced; a mandatory one is never forced out, nor is anything a project
    that must start waits on; a project forced in fits the horizon (DESIGN.md, "Saved roadmap
    scenarios").
    """
    rows = table.set_index("slug")
    candidate = rows["status"].isin(CANDIDATE_STATUSES)
    errors: dict[str, str] = {}
    for field, slugs, verb in (("force_in", force_in, "in"), ("force_out", force_out, "out")):
        others = [f"{s} ({rows.at[s, 'status'].replace('_', ' ')})" for s in slugs
                  if not candidate[s]]
        if others:
            errors[field] = (f"only idea, proposed, approved or paused projects can be forced "
                             f"{verb}: {', '.join(others)}")
    duties = [s for s in force_out if candidate[s] and bool(rows.at[s, "mandatory"])]
    if duties and "force_out" not in errors:
        errors["force_out"] = (f"{', '.join(duties)} is mandatory (a statutory duty): the "
                               "roadmap must start it, so it cannot be forced out")
    musts = [*force_in, *(s for s in rows.index[candidate & rows["mandatory"].astype(bool)])]
    # Work under way or done holds nothing up: the walk goes through candidates only.
    pending = set(rows.index[candidate])
    waits = forced_conflicts(
        dependencies[dependencies["depends_on"].isin(pending)], musts, force_out)
    if waits and "force_out" not in errors:
        needing, needed = waits[0]
        why = "is forced in" if needing in force_in else "is mandatory"
        errors["force_out"] = (f"{needing} {why} but waits on {needed}, which is forced out")
    too_long = [s for s in force_in if candidate[s] and int(rows.at[s, "duration"]) > horizon]
    if too_long and "force_in" not in errors:
        s = too_long[0]
        errors["force_in"] = (f"{s} lasts {int(rows.at[s, 'duration'])} quarters, longer than "
                              f"the horizon of {horizon}: it cannot start within it")
    if errors:
        raise Invalid(errors)


def _check_known(known: set[str], force_in: tuple[str, ...],
                 force_out: tuple[str, ...]) -> None:
    """Refuse a forced project that does not exist, or one forced both in and out."""
    errors = {field: f"no project called {', '.join(unknown)}"
              for field, slugs in (("force_in", force_in), ("force_out", force_out))
              if (unknown := [s for s in slugs if s not in known])}
    both = sorted(set(force_in) & set(force_out))
    if both and "force_out" not in errors:
        errors["force_out"] = f"forced both in and out: {', '.join(both)}"
    if errors:
        raise Invalid(errors)


def deadline_problem(slug: str, when: date, mandatory: Mapping[str, bool],
                     today: date) -> tuple[str, str] | None:
    """Return what is wrong with a deadline, as ("project" or "date", message), or None."""
    if slug not in mandatory:
        return "project", f"no project called {slug}"
    if not mandatory[slug]:
        return "project", f"{slug} is not mandatory; only mandatory projects take a deadline"
    if when < today:
        return "date", f"the deadline for {slug} ({when.isoformat()}) is before today"
    return None


def deadline_problems(session: Session, deadlines: Mapping[str, date],
                      today: date | None = None) -> dict[str, tuple[str, str]]:
    """Return each deadline's problem by slug (`deadline_problem`), read from the database."""
    mandatory = dict(cast(list[tuple[str, bool]], session.execute(
        select(col(Project.slug), col(Project.mandatory))
        .where(col(Project.slug).in_(list(deadlines)))).all()))
    today = today or date.today()
    return {slug: found for slug, when in deadlines.items()
            if (found := deadline_problem(slug, when, mandatory, today)) is not None}


def _roadmap_table(projects: pd.DataFrame, dates: Mapping[str, tuple[date | None, date | None]],
                   first: date, deadlines: Mapping[str, date], today: date) -> pd.DataFrame:
    """Add each project's duration, start quarter (in progress) and deadline quarter."""
    mandatory = dict(zip(projects["slug"], projects["mandatory"], strict=True))
    for slug, when in deadlines.items():
        found = deadline_problem(slug, when, mandatory, today)
        if found is not None:
            raise Invalid({"deadline": found[1]})
    durations, starts, due = [], [], []
    for slug, effort, status, must in zip(projects["slug"], projects["effort_pm"],
                                          projects["status"], projects["mandatory"],
                                          strict=True):
        start_date, end_date = dates.get(slug, (None, None))
        d = project_duration(start_date, end_date, effort)
        durations.append(d)
        if start_date is not None:
            begins = quarter_index(start_date, first)
        elif end_date is not None:
            begins = quarter_index(end_date, first) - d + 1
        else:
            begins = 0  # in progress with no dates: taken to run from now
        if status == "in_progress" and begins + d < 1:
            # Still in progress past its planned end: taken to finish this quarter.
            begins = 1 - d
        starts.append(begins)
        if must and slug in deadlines:
            due.append(float(max(quarter_index(deadlines[slug], first), 0)))
        elif must and start_date is not None and start_date >= today:
            # A mandatory project's planned start, still ahead, is its deadline; one already
            # past leaves it to start anywhere in the horizon (the discount favours early).
            due.append(float(quarter_index(start_date, first)))
        else:
            due.append(math.nan)
    return projects.assign(duration=durations, start=starts, deadline=due)


def _start_public(item: Start, first: date, titles: Mapping[str, str],
                  themes: Mapping[str, str], names: Mapping[str, str]) -> dict[str, Any]:
    """Return one scheduled project as JSON."""
    return {
        "slug": item.slug, "title": titles.get(item.slug, item.slug),
        "owner": item.owner, "owner_name": names.get(item.owner, item.owner),
        "theme": themes.get(item.slug, ""), "start_index": item.start,
        "start": quarter_label(first, item.start),
        "end": quarter_label(first, item.start + item.duration - 1),
        "duration": item.duration, "cost_gbp": item.cost_gbp, "effort_pm": item.effort_pm,
        "value": round(item.value, 4), "committed": item.committed,
    }


def roadmap_public(result: RoadmapResult, *, run_profile: str, revision: int, first: date,
                   projects: pd.DataFrame, organisations: pd.DataFrame,
                   dependencies: pd.DataFrame, today: date) -> dict[str, Any]:
    """Return the JSON shape of a roadmap."""
    titles = dict(zip(projects["slug"], projects["title"], strict=True))
    themes = dict(zip(projects["slug"], projects["theme"], strict=True))
    names = dict(zip(organisations["code"], organisations["name"], strict=True))

    def public(items: tuple[Start, ...]) -> list[dict[str, Any]]:
        return [_start_public(s, first, titles, themes, names) for s in items]

    shown = {s.slug for s in result.starts} | {s.slug for s in result.committed}
    links = [[p, q] for p, q in dependencies.itertuples(index=False, name=None)
             if p in shown and q in shown]
    return {
        "profile": run_profile, "revision": revision, "status": result.status,
        "gap": result.gap, "objective": round(result.objective, 4),
        "value": round(result.value, 4), "horizon": result.horizon,
        "today": today.isoformat(), "first_quarter": first.isoformat(),
        "quarters": list(result.quarters),
        "discount_rate": result.discount_rate,
        "budget": list(result.budget), "budget_used": [round(x, 2) for x in result.budget_used],
        "capacity": {org: [None if math.isinf(x) else x for x in caps]
                     for org, caps in result.capacity.items()},
        "capacity_used": {org: [round(x, 3) for x in used]
                          for org, used in result.capacity_used.items()},
        "organisation_names": {org: names.get(org, org) for org in
                               set(result.capacity) | set(result.capacity_used)},
        "starts": public(result.starts), "committed": public(result.committed),
        "dependencies": links,
        "unschedulable": [{"slug": s, "title": titles.get(s, s), "reason": why}
                          for s, why in result.unschedulable],
        "infeasible_reason": result.infeasible_reason,
        "infeasible_quarter": (None if result.infeasible_quarter is None
                               else result.quarters[result.infeasible_quarter]),
        "infeasible_constraint": result.infeasible_constraint,
        "message": result.message, "solve_seconds": round(result.solve_seconds, 3),
    }
