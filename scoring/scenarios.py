"""Explain a plan: why each candidate was left out, who makes a request infeasible, and
how several plans (scenarios) differ.

Pure functions over the plan's inputs (the candidates table and the dependencies, as given to
`scoring.plan.plan_portfolio`) and the slugs it selected; nothing here solves anything.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from scoring.plan import CANDIDATE_STATUSES

# The reasons a candidate is left out, tested in this order; the first that holds is given.
LEFT_OUT_REASONS: tuple[str, ...] = (
    "forced_out", "prerequisite_out", "over_budget", "over_capacity", "no_value",
    "lower_value_per_pound", "lower_value_per_person_month", "within_gap",
)


@dataclass(frozen=True)
class LeftOut:
    """A candidate the plan leaves out, with the first reason that holds and what it names."""

    slug: str
    reason: str
    detail: str
    prerequisites: tuple[str, ...] = ()


@dataclass(frozen=True)
class Responsible:
    """A project the plan must take (mandatory, forced in, or a prerequisite of one)."""

    slug: str
    cost_gbp: float
    effort_pm: float
    because: str


def _money(x: float) -> str:
    return f"£{x:,.0f}"


def _prerequisites(dependencies: pd.DataFrame | None) -> dict[str, list[str]]:
    """Map each project to the projects it depends on."""
    out: dict[str, list[str]] = {}
    if dependencies is None or dependencies.empty:
        return out
    for project, prerequisite in zip(dependencies["project"].astype(str),
                                     dependencies["depends_on"].astype(str), strict=True):
        out.setdefault(project, []).append(prerequisite)
    return out


def required_closure(candidates: pd.DataFrame, dependencies: pd.DataFrame | None,
                     force_in: Iterable[str] = ()) -> list[Responsible]:
    """List what every plan must take: mandatory and forced-in candidates with the candidate
    prerequisites they wait on (transitively), largest cost first."""
    table = candidates.set_index(candidates["slug"].astype(str))
    status = table["status"].astype(str)
    is_candidate = status.isin(CANDIDATE_STATUSES)
    prereqs = _prerequisites(dependencies)
    forced = [s for s in force_in if s in table.index]
    mandatory = [s for s in table.index[is_candidate & table["mandatory"].astype(bool)]]
    because: dict[str, str] = {}
    queue: deque[str] = deque()
    for slug in mandatory:
        because.setdefault(slug, "mandatory")
        queue.append(slug)
    for slug in forced:
        because.setdefault(slug, "forced in")
        queue.append(slug)
    while queue:
        slug = queue.popleft()
        for q in prereqs.get(slug, []):
            if q in table.index and is_candidate.get(q, False) and q not in because:
                because[q] = f"prerequisite of {slug}"
                queue.append(q)
    rows = [Responsible(s, float(table.at[s, "cost_gbp"]), float(table.at[s, "effort_pm"]),
                        why) for s, why in because.items()]
    return sorted(rows, key=lambda r: (-r.cost_gbp, r.slug))


def forced_conflicts(dependencies: pd.DataFrame | None, force_in: Iterable[str],
                     force_out: Iterable[str]) -> list[tuple[str, str]]:
    """Return (forced-in project, forced-out project it waits on, directly or through others)."""
    prereqs = _prerequisites(dependencies)
    out_set = set(force_out)
    found = []
    for start in force_in:
        seen = {start}
        queue = deque([start])
        while queue:
            slug = queue.popleft()
            for q in prereqs.get(slug, []):
                if q in seen:
                    continue
                seen.add(q)
                if q in out_set:
                    found.append((start, q))
                queue.append(q)
    return sorted(found)


def left_out(candidates: pd.DataFrame, dependencies: pd.DataFrame | None,
             selected: Iterable[str], *, budget: float, capacity: float,
             force_in: Iterable[str] = (), force_out: Iterable[str] = ()) -> list[LeftOut]:
    """Say why each candidate the plan did not select was left out (the first reason that holds).

    1. ``forced_out``: the scenario forces it out.
    2. ``prerequisite_out``: a project it waits on is not in the plan (left out, forced out or
       rejected), so it cannot start.
    3. ``over_budget``: its cost plus what every plan must take (mandatory and forced-in work
       with their prerequisites) exceeds the budget: it fits in no plan.
    4. ``over_capacity``: the same with its effort and the capacity.
    5. ``no_value``: it has no score under this profile, so taking it adds nothing.
    6. ``lower_value_per_pound``: it could fit, but its cost exceeds the budget the plan leaves,
       so only in place of chosen projects: the best use of the budget left it out (its
       composite points per £1m of cost are shown against the chosen set's).
    7. ``lower_value_per_person_month``: the same with its effort and the capacity the plan
       leaves (points per person-month).
    8. ``within_gap``: it fits what the plan leaves; only a plan not proven optimal (stopped
       within its optimality gap or time limit) leaves such a project out.
    """
    table = candidates.set_index(candidates["slug"].astype(str))
    status = table["status"].astype(str)
    chosen = set(selected)
    outs = set(force_out)
    prereqs = _prerequisites(dependencies)
    must = required_closure(candidates, dependencies, force_in)
    must_cost = sum(r.cost_gbp for r in must)
    must_effort = sum(r.effort_pm for r in must)
    value = pd.to_numeric(table["value"], errors="coerce").fillna(0.0)
    cost = pd.to_numeric(table["cost_gbp"], errors="coerce").fillna(0.0)
    effort = pd.to_numeric(table["effort_pm"], errors="coerce").fillna(0.0)
    chosen_list = [s for s in chosen if s in table.index]
    chosen_cost = float(cost.reindex(chosen_list).sum())
    chosen_effort = float(effort.reindex(chosen_list).sum())
    chosen_value = float(value.reindex(chosen_list).sum())
    per_pound = chosen_value / chosen_cost * 1e6 if chosen_cost > 0 else math.inf
    per_month = chosen_value / chosen_effort if chosen_effort > 0 else math.inf
    # Solver tolerances: a project within a hair of what is left still counts as not fitting.
    budget_left = budget - chosen_cost + 1e-9 * max(budget, 1.0)
    capacity_left = capacity - chosen_effort + 1e-9 * max(capacity, 1.0)
    must_slugs = {r.slug for r in must}
    out: list[LeftOut] = []
    for slug in table.index[status.isin(CANDIDATE_STATUSES)]:
        if slug in chosen:
            continue
        if slug in outs:
            out.append(LeftOut(slug, "forced_out", "forced out by the scenario"))
            continue
        missing = tuple(sorted(q for q in prereqs.get(slug, [])
                               if q in table.index and q not in chosen
                               and status[q] not in ("in_progress", "delivered")))
        if missing:
            out.append(LeftOut(slug, "prerequisite_out",
                               "waits on " + ", ".join(missing) + ", not in the plan",
                               prerequisites=missing))
            continue
        extra_cost = 0.0 if slug in must_slugs else float(cost[slug])
        extra_effort = 0.0 if slug in must_slugs else float(effort[slug])
        if must_cost + extra_cost > budget:
            out.append(LeftOut(slug, "over_budget", (
                f"costs {_money(cost[slug])}; with the work every plan must take "
                f"({_money(must_cost)}) that exceeds the budget of {_money(budget)}")))
            continue
        if must_effort + extra_effort > capacity:
            out.append(LeftOut(slug, "over_capacity", (
                f"needs {effort[slug]:,.1f} person-months; with the work every plan must take "
                f"({must_effort:,.1f}) that exceeds the capacity of {capacity:,.1f}")))
            continue
        if value[slug] <= 0:
            out.append(LeftOut(slug, "no_value", "no score under this profile"))
            continue
        if cost[slug] > budget_left:
            rate = value[slug] / cost[slug] * 1e6 if cost[slug] > 0 else math.inf
            out.append(LeftOut(slug, "lower_value_per_pound", (
                f"{_rate(rate)} points per £1m against {_rate(per_pound)} for the chosen set; "
                f"it costs {_money(cost[slug])} and the plan leaves "
                f"{_money(max(budget - chosen_cost, 0.0))}, so it fits only in place of "
                "chosen projects")))
        elif effort[slug] > capacity_left:
            rate = value[slug] / effort[slug] if effort[slug] > 0 else math.inf
            out.append(LeftOut(slug, "lower_value_per_person_month", (
                f"{_rate(rate)} points per person-month against {_rate(per_month)} for the "
                f"chosen set; it needs {effort[slug]:,.1f} person-months and the plan leaves "
                f"{max(capacity - chosen_effort, 0.0):,.1f}, so it fits only in place of "
                "chosen projects")))
        else:
            out.append(LeftOut(slug, "within_gap", (
                "it fits what the plan leaves: the solver stopped before proving the best "
                "plan (see the optimality gap)")))
    return out


def _rate(x: float) -> str:
    return "unlimited" if math.isinf(x) else f"{x:,.1f}"


@dataclass(frozen=True)
class PlanSummary:
    """What a compared plan holds: its name, selected slugs, value, cost and effort."""

    name: str
    selected: frozenset[str]
    objective: float
    cost_gbp: float
    effort_pm: float


@dataclass(frozen=True)
class PlanDifference:
    """How one plan differs from the first compared: what it adds and drops."""

    name: str
    adds: tuple[str, ...]
    drops: tuple[str, ...]
    only_here: tuple[str, ...]
    objective_change: float
    cost_change: float
    effort_change: float


def compare_plans(plans: Sequence[PlanSummary]) -> list[PlanDifference]:
    """Compare plans with the first: adds = here and not in the first; drops = the reverse;
    only_here = in no other plan compared. Changes are this plan's figure minus the first's."""
    if not plans:
        return []
    base = plans[0]
    out = []
    for plan in plans:
        others = set().union(*(p.selected for p in plans if p is not plan)) if len(plans) > 1 \
            else set()
        out.append(PlanDifference(
            name=plan.name,
            adds=tuple(sorted(plan.selected - base.selected)),
            drops=tuple(sorted(base.selected - plan.selected)),
            only_here=tuple(sorted(plan.selected - others)),
            objective_change=float(plan.objective - base.objective),
            cost_change=float(plan.cost_gbp - base.cost_gbp),
            effort_change=float(plan.effort_pm - base.effort_pm),
        ))
    return out
