"""Plans under budget and capacity, the efficient frontier, and fix-the-plumbing advice."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Select, select
from sqlmodel import Session, col

from portfolio.cache import release_freed_memory
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.models import Project, RankingRow, SharingAgreement
from portfolio.services.common import consistent_read
from portfolio.services.frames import load_profile
from portfolio.services.ranking import RunInfo, ensure_ranking, portfolio_frames
from scoring.composite import composite_scores
from scoring.engine import criterion_values, readiness_weight
from scoring.plan import (
    InvalidPlanRequest,
    PlanResult,
    efficient_frontier,
    plan_portfolio,
    run_frontier_in_subprocess,
    run_plan_in_subprocess,
)
from scoring.plumbing import plumbing_recommendations

# Below this many candidates a solve takes well under a second: spawning a process costs more.
SUBPROCESS_ABOVE = 1500


def run_figures(session: Session, run: RunInfo, *,
                among: Select[int] | None = None) -> pd.DataFrame:
    """Return each active project's composite (`value`) and readiness (0-100) in a stored run.

    With `among` (a query of project ids), only those projects'.
    """
    query = (select(col(Project.slug), col(RankingRow.composite), col(RankingRow.readiness))
             .join(RankingRow, col(RankingRow.project_id) == col(Project.id))
             .where(col(RankingRow.run_id) == run.rows_id))
    if among is not None:
        query = query.where(col(Project.id).in_(among))
    rows = session.execute(query).all()
    # Columns from zip: pandas inspects each row object it is handed (0.4 s at 100,000).
    slugs, values, readiness = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], []))
    return pd.DataFrame({"value": values, "readiness": readiness}, index=slugs, dtype=float)


def project_values(session: Session, run: RunInfo, *,
                   among: Select[int] | None = None) -> pd.Series:
    """Return the composite of each active project in a stored run (or of those among), by slug."""
    return run_figures(session, run, among=among)["value"].rename(None)


def plan_candidates(db: Database, profile: str | None
                    ) -> tuple[RunInfo, pd.DataFrame, pd.DataFrame]:
    """Return the run, the projects with their values, and the dependencies."""
    run = ensure_ranking(db, profile)
    with db.read() as session:
        consistent_read(session)
        frames = portfolio_frames(db, session)
        values = project_values(session, run)
    projects = frames.projects.assign(value=values.reindex(frames.projects["slug"]).to_numpy())
    return run, projects, frames.dependencies


def plan(
    db: Database, *, budget: float, capacity: float, profile: str | None = None,
    force_in: Sequence[str] = (), force_out: Sequence[str] = (),
    wall_clock_seconds: float = 60.0,
) -> dict[str, Any]:
    """Choose the projects that maximise value within a budget and a capacity."""
    finite_amount(budget, "budget", "the budget")
    finite_amount(capacity, "capacity", "the capacity")
    solve_limit(wall_clock_seconds)
    run, projects, dependencies = plan_candidates(db, profile)
    selectable = projects["status"].isin(["idea", "proposed", "approved", "paused"]).sum()
    try:
        if selectable > SUBPROCESS_ABOVE:
            result = run_plan_in_subprocess(
                projects, dependencies, budget, capacity, force_in, force_out,
                time_limit=wall_clock_seconds * 0.8, wall_clock_seconds=wall_clock_seconds)
        else:
            result = plan_portfolio(projects, dependencies, budget, capacity, force_in, force_out,
                                    time_limit=wall_clock_seconds)
    except InvalidPlanRequest as exc:
        raise Invalid({exc.field: str(exc)}) from None
    return plan_public(result, run, projects)


def finite_amount(value: float, field: str, what: str) -> float:
    """Refuse an amount that is not a finite number of at least 0, naming its field."""
    if not math.isfinite(value) or value < 0:
        raise Invalid({field: f"{what} must be a finite number of at least 0"})
    return value


def solve_limit(seconds: float) -> float:
    """Refuse a solver's time limit that is no time at all (0 or less, or not a number)."""
    if not math.isfinite(seconds) or seconds <= 0:
        raise Invalid({"wall_clock_seconds": "the time limit must be a number of seconds "
                                             "above 0, such as 60"})
    return seconds


def plan_public(result: PlanResult, run: RunInfo, projects: pd.DataFrame) -> dict[str, Any]:
    """Return the JSON shape of a plan."""
    titles = dict(zip(projects["slug"], projects["title"], strict=True))
    return {
        "profile": run.profile, "revision": run.revision, "status": result.status,
        "selected": list(result.selected), "objective": round(float(result.objective), 4),
        "budget_used": float(result.budget_used), "capacity_used": float(result.capacity_used),
        "waves": [list(wave) for wave in result.waves],
        "wave_titles": [[titles.get(s, s) for s in wave] for wave in result.waves],
        "gap": None if result.gap is None or math.isnan(result.gap) else float(result.gap),
        "infeasible_reason": result.infeasible_reason, "message": result.message,
        "solve_seconds": round(float(result.solve_seconds), 3),
    }


def frontier(
    db: Database, *, capacity: float, budgets: Sequence[float], profile: str | None = None,
) -> list[dict[str, Any]]:
    """Return the best value at each budget step (the value-against-budget curve)."""
    if len(budgets) > 40:
        raise Invalid({"budgets": "at most 40 budget steps"})
    finite_amount(capacity, "capacity", "the capacity")
    for budget in budgets:
        finite_amount(budget, "budgets", "each budget")
    _run, projects, dependencies = plan_candidates(db, profile)
    # Every solve of the curve shares the plan's wall-clock limit; large ones run apart.
    wall = db.settings.plan_wall_clock_seconds
    selectable = projects["status"].isin(["idea", "proposed", "approved", "paused"]).sum()
    try:
        # The curve is a picture of value against budget: each point may stop within a 1e-4
        # relative gap (and says so in its status); the plan itself is solved exactly.
        if selectable > SUBPROCESS_ABOVE:
            curve = run_frontier_in_subprocess(projects, dependencies, budgets, capacity,
                                               wall_clock_seconds=wall, time_limit=20.0,
                                               mip_rel_gap=1e-4)
        else:
            curve = efficient_frontier(projects, dependencies, budgets, capacity,
                                       time_limit=20.0, mip_rel_gap=1e-4,
                                       wall_clock_seconds=wall)
    except InvalidPlanRequest as exc:
        raise Invalid({exc.field: str(exc)}) from None
    return [
        {"budget": float(r["budget"]),
         "objective": None if pd.isna(r["objective"]) else round(float(r["objective"]), 3),
         "n_selected": int(r["n_selected"]), "status": str(r["status"])}
        for r in curve.to_dict("records")
    ]


def plumbing(db: Database, *, profile: str | None = None, top: int | None = 20,
             seen: int | None = None) -> list[dict]:
    """Rank the dataset improvements and agreements that would raise portfolio value most."""
    run = ensure_ranking(db, profile, wait_seconds=db.settings.ranking_wait_seconds, seen=seen)
    # Kept under the run whose rows it reads: a run carried forward after an edit to fields
    # the ranking never reads (a title) has the same inputs, and computing them again took
    # 2.5 s of the next dashboard view at 100,000 projects (measured).
    return db.memo.get_or_compute(("plumbing", run.rows_id, top),
                                  lambda: _released(_plumbing(db, profile=run.profile, top=top)))


def _released(found: list[dict]) -> list[dict]:
    """Return what a whole-portfolio computation found, its freed temporaries handed back."""
    # Criterion values of every project: about 50 MB at 100,000 that would stay resident.
    release_freed_memory()
    return found


def _plumbing(db: Database, *, profile: str | None, top: int | None) -> list[dict]:
    """Compute the fix-the-plumbing recommendations."""
    with db.read() as session:
        consistent_read(session)
        stored = load_profile(session, profile)
        frames = portfolio_frames(db, session)
        titles = dict(session.execute(
            select(col(SharingAgreement.code), col(SharingAgreement.title))).all())
    values, _ = criterion_values(frames.projects, frames.criteria, frames.levels, frames.links)
    scores = composite_scores(values, list(frames.criteria), stored.weights).scores
    weight = readiness_weight(scores, stored.weights)
    table = plumbing_recommendations(frames.links, weight, frames.projects[["slug", "status"]],
                                     agreement_titles=titles)
    if top:
        table = table.head(top)
    out = []
    for record in table.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in record.items()})
        out[-1]["gain"] = round(float(record["gain"]), 3)
        out[-1]["projects_improved"] = list(record["projects_improved"])
        out[-1]["projects_unblocked"] = list(record["projects_unblocked"])
    return out
