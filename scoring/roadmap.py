"""Roadmap: which candidates start in which quarter, as an exact 0/1 time-indexed programme.

Quarters are numbered 0..H-1 from the first quarter of the horizon (H quarters, 1..40). Each
project p lasts ``d_p`` whole quarters (see `project_duration`). A binary ``x[p,t]`` says that p
starts in quarter t; p then runs in quarters t..t+d_p-1, which must lie inside the horizon.
Maximise ``sum(value_p * f**t * x[p,t])`` (composite points), where ``f = (1 + r)**(-1/4)``
discounts a start by the annual rate r (0 by default: when a project starts does not matter)
subject to:

- at most one start per project (exactly one for mandatory projects and their unfinished
  prerequisites); a mandatory project with a deadline quarter D starts in D or earlier;
- budget: in every quarter q, ``sum(cost_gbp_p / d_p * x[p,t] for t <= q < t + d_p)`` plus what
  projects in progress spend in q is at most the quarter's budget (GBP): a project's cost is
  spread evenly over its duration;
- capacity: likewise each organisation's effort (person-months, spread evenly, charged to the
  project's owner) in each quarter is at most that organisation's capacity in that quarter; an
  organisation without a stated capacity is unconstrained; an optional capacity for all
  organisations together works the same way;
- prerequisites finish before dependants start: for a candidate q that p depends on and every
  quarter t, ``sum(x[p,s] for s <= t) <= sum(x[q,s] for s <= t - d_q)``; a prerequisite in
  progress ends in its end quarter, so p starts after it; a delivered one is done; a rejected one
  makes p unschedulable;
- projects in progress are fixed: they are not chosen, they occupy budget and capacity from their
  start quarter for their duration (the part inside the horizon).

Solved with SciPy's ``milp`` (HiGHS) at a relative gap of 0 by default; large solves run through
`scoring.plan.run_with_wall_clock`. An infeasible request names the quarter and the constraint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scoring.graph import STATUSES, DependencyCycleError
from scoring.graph.arrays import cycle_in, dependency_edges, flag, floats, isin, topological_order
from scoring.plan import CANDIDATE_STATUSES, run_with_wall_clock

MAX_HORIZON = 40
DEFAULT_HORIZON = 8
# A project without both dates is taken to be staffed by three people full time: 9 p-m a quarter.
TEAM_PERSON_MONTHS_PER_QUARTER = 9.0
# Relative slack when checking a solution against budgets and capacities (solver tolerances).
_FEASIBILITY_RTOL = 1e-7
_FEASIBILITY_ATOL = 1e-6


class InvalidRoadmapRequest(ValueError):
    """Signal a roadmap request that cannot be posed; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def quarter_start(day: date) -> date:
    """Return the first day of the calendar quarter holding `day`."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_index(day: date, first: date) -> int:
    """Return how many calendar quarters `day` lies after the quarter holding `first`."""
    return (day.year - first.year) * 4 + (day.month - 1) // 3 - (first.month - 1) // 3


def quarter_label(first: date, index: int) -> str:
    """Name quarter `index` of a horizon starting at `first` ("2027 Q1", calendar quarters)."""
    n = first.year * 4 + (first.month - 1) // 3 + index
    return f"{n // 4} Q{n % 4 + 1}"


def project_duration(start: date | None, end: date | None, effort_pm: float) -> int:
    """Return a project's duration in whole quarters.

    With both dates: the number of calendar quarters from the start's to the end's, inclusive.
    Otherwise from effort: ``max(1, ceil(effort_pm / 9))``, a team of three people full time.
    """
    if start is not None and end is not None:
        return max(1, quarter_index(end, start) + 1)
    effort = float(effort_pm) if effort_pm is not None else math.nan
    if not math.isfinite(effort) or effort <= 0:
        return 1
    return max(1, math.ceil(effort / TEAM_PERSON_MONTHS_PER_QUARTER - 1e-9))


@dataclass(frozen=True)
class Start:
    """One project on the roadmap: its first quarter (index), duration and whether it is fixed."""

    slug: str
    start: int
    duration: int
    owner: str
    cost_gbp: float
    effort_pm: float
    value: float
    committed: bool


@dataclass(frozen=True)
class RoadmapResult:
    """Hold a roadmap: the starts chosen, what is committed, and use against the limits."""

    starts: tuple[Start, ...]
    committed: tuple[Start, ...]
    objective: float  # discounted value, points
    value: float  # undiscounted value of the chosen starts, points
    budget: tuple[float, ...]
    budget_used: tuple[float, ...]  # GBP per quarter, chosen and committed together
    capacity: Mapping[str, tuple[float, ...]]
    capacity_used: Mapping[str, tuple[float, ...]]  # person-months per organisation and quarter
    status: str
    gap: float | None
    infeasible_reason: str | None
    infeasible_quarter: int | None
    infeasible_constraint: str | None
    solve_seconds: float
    horizon: int
    quarters: tuple[str, ...]
    unschedulable: tuple[tuple[str, str], ...] = ()
    message: str | None = None
    total_capacity: tuple[float, ...] | None = None
    discount_rate: float = 0.0
    variables: int = 0


# The words people read for a limit's name, and a figure to show what one looks like.
_WORDS = {"budget": "budget", "capacity": "capacity"}
_EXAMPLES = {"budget": "500000", "capacity": "120"}


def _typed(value: Any) -> str:
    """Return a figure as it was given: 5 rather than 5.0."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _not_a_figure(name: str, value: Any) -> str:
    """Say, in words, that a limit is not a number of at least 0."""
    return (f"the {_WORDS.get(name, name)} is a number of at least 0, such as "
            f"{_EXAMPLES.get(name, '10')} (you entered {_typed(value)})")


def _per_quarter(name: str, limit: Any, horizon: int, *, allow_none: bool = False) -> np.ndarray:
    """Return a limit as one finite non-negative figure per quarter (inf where unconstrained)."""
    if limit is None:
        if allow_none:
            return np.full(horizon, np.inf)
        raise InvalidRoadmapRequest(name, f"give the {_WORDS.get(name, name)}")
    values: list[Any] = [limit] * horizon if np.isscalar(limit) else list(limit)
    if len(values) != horizon:
        raise InvalidRoadmapRequest(
            name, f"{name} needs one figure per quarter ({horizon}), got {len(values)}"
        )
    out = np.empty(horizon)
    for i, v in enumerate(values):
        if v is None and allow_none:
            out[i] = np.inf
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise InvalidRoadmapRequest(name, _not_a_figure(name, v)) from None
        if math.isnan(x) and allow_none:
            out[i] = np.inf
        elif not math.isfinite(x) or x < 0:
            raise InvalidRoadmapRequest(name, _not_a_figure(name, v))
        else:
            out[i] = x
    return out


@dataclass(frozen=True)
class _Problem:
    slugs: np.ndarray  # every row of the table
    owner: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    effort: np.ndarray
    duration: np.ndarray
    cand: np.ndarray  # positions of candidates
    earliest: np.ndarray  # per row; inf when unschedulable
    latest: np.ndarray  # per row; -1 when unschedulable
    required: np.ndarray  # per row: must start (mandatory or a mandatory one's prerequisite)
    src: np.ndarray  # candidate edges p depends on q, row positions
    dst: np.ndarray
    fixed: np.ndarray  # rows of in-progress projects, with their start quarter in `fixed_start`
    fixed_start: np.ndarray
    budget: np.ndarray
    capacity: dict[str, np.ndarray]
    total_capacity: np.ndarray
    horizon: int
    quarters: tuple[str, ...]
    discount: np.ndarray  # factor per start quarter
    unschedulable: tuple[tuple[str, str], ...]
    reason: tuple[str, int | None, str | None] | None  # (text, quarter, constraint)


def _quarters(horizon: int, labels: Sequence[str] | None) -> tuple[str, ...]:
    if labels is None:
        return tuple(f"quarter {i + 1}" for i in range(horizon))
    if len(labels) < horizon:
        raise InvalidRoadmapRequest("quarters", "one label per quarter is needed")
    return tuple(str(x) for x in labels[:horizon])


def _horizon(horizon: Any) -> int:
    try:
        h = int(horizon)
    except (TypeError, ValueError):
        raise InvalidRoadmapRequest(
            "horizon", f"horizon must be a whole number, got {horizon!r}") from None
    if h != horizon or not 1 <= h <= MAX_HORIZON:
        raise InvalidRoadmapRequest(
            "horizon", f"horizon must be a whole number of quarters from 1 to {MAX_HORIZON}, "
            f"got {horizon!r}"
        )
    return h


@dataclass(frozen=True)
class _Limits:
    horizon: int
    quarters: tuple[str, ...]
    budget: np.ndarray
    capacity: dict[str, np.ndarray]
    total_capacity: np.ndarray
    discount: np.ndarray  # factor per start quarter


def _limits(
    horizon: Any, budget: Any, capacity: Mapping[str, Any] | None, total_capacity: Any,
    discount_rate: float, quarters: Sequence[str] | None,
) -> _Limits:
    """Check the horizon, the per-quarter limits and the discount rate."""
    h = _horizon(horizon)
    labels = _quarters(h, quarters)
    budget_q = _per_quarter("budget", budget, h)
    total_q = _per_quarter("capacity", total_capacity, h, allow_none=True)
    caps: dict[str, np.ndarray] = {}
    for org, cap in (capacity or {}).items():
        caps[str(org)] = _per_quarter("capacity", cap, h, allow_none=True)
    try:
        rate = float(discount_rate)
    except (TypeError, ValueError):
        rate = math.nan
    if not math.isfinite(rate) or not 0 <= rate < 1:
        raise InvalidRoadmapRequest(
            "discount_rate", "the discount rate is a yearly rate from 0 to below 1, such as "
            f"0.035 (you entered {_typed(discount_rate)})")
    return _Limits(h, labels, budget_q, caps, total_q, (1.0 + rate) ** (-np.arange(h) / 4.0))


@dataclass(frozen=True)
class _Rows:
    slugs: pd.Index
    status: np.ndarray
    owner: np.ndarray
    is_cand: np.ndarray
    in_progress: np.ndarray
    value: np.ndarray
    cost: np.ndarray
    effort: np.ndarray
    duration: np.ndarray  # whole quarters, at least 1
    mandatory: np.ndarray
    deadline: np.ndarray  # quarter index; NaN when none
    fixed_start: np.ndarray


def _named(slugs: pd.Index, bad: np.ndarray) -> str:
    """Return the first five slugs a mask picks, sorted, for a message."""
    return ", ".join(sorted(slugs[bad])[:5])


def _rows(candidates: pd.DataFrame) -> _Rows:
    """Check the candidate table's slugs, statuses, costs and efforts and read its columns."""
    table = candidates.reset_index(drop=True)
    slugs = pd.Index(table["slug"].astype(str))
    if slugs.has_duplicates:
        raise InvalidRoadmapRequest("slug", "duplicate slugs")
    n = len(table)
    status = table["status"].astype(str).to_numpy(dtype=object)
    bad_status = sorted(set(status) - set(STATUSES))
    if bad_status:
        raise InvalidRoadmapRequest("status", f"unknown status value(s): {', '.join(bad_status)}")
    owner = (table["owner"].astype(str) if "owner" in table else pd.Series([""] * n)).to_numpy(
        dtype=object
    )
    is_cand = isin(status, CANDIDATE_STATUSES)
    in_progress = status == "in_progress"
    cost = floats(table["cost_gbp"])
    effort = floats(table["effort_pm"])
    for name, arr in (("cost_gbp", cost), ("effort_pm", effort)):
        bad = (is_cand | in_progress) & (~np.isfinite(arr) | (arr < 0))
        if bad.any():
            raise InvalidRoadmapRequest(
                name, f"{name} must be a known, non-negative number; missing or invalid for "
                f"{_named(slugs, bad)}"
            )
    fixed_start = floats(table["start"]) if "start" in table else np.zeros(n)
    return _Rows(
        slugs=slugs, status=status, owner=owner, is_cand=is_cand, in_progress=in_progress,
        value=np.nan_to_num(floats(table["value"]), nan=0.0), cost=np.nan_to_num(cost),
        effort=np.nan_to_num(effort), duration=_durations(table, slugs, is_cand | in_progress),
        mandatory=flag(table, "mandatory") & is_cand,
        deadline=floats(table["deadline"]) if "deadline" in table else np.full(n, np.nan),
        fixed_start=np.where(np.isfinite(fixed_start), np.round(fixed_start), 0).astype(np.int64),
    )


def _durations(table: pd.DataFrame, slugs: pd.Index, scheduled: np.ndarray) -> np.ndarray:
    """Return each row's duration in whole quarters, refusing a bad one where it matters."""
    duration = floats(table["duration"]) if "duration" in table else np.ones(len(table))
    bad = scheduled & (~np.isfinite(duration) | (duration < 1))
    if bad.any():
        raise InvalidRoadmapRequest(
            "duration", f"duration must be a whole number of quarters of at least 1; invalid for "
            f"{_named(slugs, bad)}"
        )
    return np.where(np.isfinite(duration), np.maximum(np.round(duration), 1), 1).astype(np.int64)


def _check_mandatory(rows: _Rows, h: int) -> None:
    """Refuse a mandatory project due before the first quarter or longer than the horizon."""
    late = rows.mandatory & np.isfinite(rows.deadline) & (rows.deadline < 0)
    if late.any():
        raise InvalidRoadmapRequest(
            "deadline", "a mandatory project's deadline cannot be before the first quarter: "
            + _named(rows.slugs, late)
        )
    too_long = rows.mandatory & (rows.duration > h)
    if too_long.any():
        first = sorted(rows.slugs[too_long])[0]
        d = int(rows.duration[rows.slugs.get_loc(first)])
        raise InvalidRoadmapRequest(
            "horizon", f"mandatory project {first} lasts {d} quarters, longer than the horizon "
            f"of {h}"
        )


@dataclass(frozen=True)
class _Edges:
    dep_src: np.ndarray  # every candidate's prerequisite edge, p depends on q
    dep_dst: np.ndarray
    src: np.ndarray  # those between two candidates
    dst: np.ndarray
    order: np.ndarray  # candidates' topological order, prerequisites first


def _edges(rows: _Rows, dependencies: pd.DataFrame | None) -> _Edges:
    """Return the candidates' prerequisite edges in order, refusing a cycle."""
    dep_src, dep_dst = dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        rows.slugs,
    )
    cand_edge = rows.is_cand[dep_src]
    dep_src, dep_dst = dep_src[cand_edge], dep_dst[cand_edge]
    inner = rows.is_cand[dep_dst]
    src, dst = dep_src[inner], dep_dst[inner]
    n = len(rows.slugs)
    order = topological_order(n, dst, src)
    if order is None:
        raise DependencyCycleError(cycle_in(n, src, dst, rows.slugs.to_numpy(dtype=object)))
    return _Edges(dep_src, dep_dst, src, dst, order)


def _windows(
    rows: _Rows, edges: _Edges, h: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, str]]:
    """Return each row's earliest and latest start, whether it must start, and why it cannot."""
    n, duration = len(rows.slugs), rows.duration
    # Earliest start: after prerequisites in progress end and candidate prerequisites can finish.
    earliest = np.zeros(n, dtype=np.float64)
    why_not: dict[int, str] = {}
    for p, q in zip(edges.dep_src.tolist(), edges.dep_dst.tolist(), strict=True):
        if rows.status[q] == "rejected":
            earliest[p] = np.inf
            why_not.setdefault(p, f"depends on rejected project {rows.slugs[q]}")
        elif rows.in_progress[q]:
            earliest[p] = max(earliest[p], rows.fixed_start[q] + duration[q])
    prereqs: list[list[int]] = [[] for _ in range(n)]
    for p, q in zip(edges.src.tolist(), edges.dst.tolist(), strict=True):
        prereqs[p].append(q)
    latest = np.where(rows.is_cand, h - duration, -1).astype(np.float64)
    dated = rows.mandatory & np.isfinite(rows.deadline)
    latest = np.where(dated, np.minimum(latest, rows.deadline), latest)
    for u in edges.order.tolist():
        for q in prereqs[u]:
            if earliest[q] + duration[q] > earliest[u]:
                earliest[u] = earliest[q] + duration[q]
            if q in why_not and u not in why_not:
                why_not[u] = f"its prerequisite {rows.slugs[q]} cannot be scheduled"
    # Required: mandatory projects and, transitively, their candidate prerequisites.
    required = rows.mandatory.copy()
    for u in edges.order[::-1].tolist():
        if required[u]:
            for q in prereqs[u]:
                required[q] = True
                latest[q] = min(latest[q], latest[u] - duration[q])
    return earliest, latest, required, why_not


def _unschedulable(
    rows: _Rows, earliest: np.ndarray, latest: np.ndarray, required: np.ndarray,
    why_not: dict[int, str], labels: tuple[str, ...],
) -> tuple[list[tuple[str, str]], tuple[str, int | None, str | None] | None]:
    """Close the window of each candidate with none; name why, or why the request fails."""
    h = len(labels)
    reason: tuple[str, int | None, str | None] | None = None
    unschedulable: list[tuple[str, str]] = []
    mandatory, duration = rows.mandatory, rows.duration
    # Mandatory projects first, so a reason names the project that sets the deadline.
    for u in sorted(np.flatnonzero(rows.is_cand).tolist(), key=lambda i: (not mandatory[i], i)):
        if earliest[u] <= latest[u]:
            continue
        if required[u]:
            if reason is None:
                reason = _deadline_reason(u, rows.slugs, mandatory, why_not, earliest, latest,
                                          duration, labels, h)
        else:
            unschedulable.append((str(rows.slugs[u]), _why_unschedulable(
                u, rows, earliest, why_not, labels)))
        earliest[u], latest[u] = np.inf, -1
    return unschedulable, reason


def _why_unschedulable(
    u: int, rows: _Rows, earliest: np.ndarray, why_not: dict[int, str], labels: tuple[str, ...]
) -> str:
    """Say why an optional candidate cannot be scheduled within the horizon."""
    h = len(labels)
    if u in why_not:
        return why_not[u]
    if rows.duration[u] > h:
        return f"lasts {rows.duration[u]} quarters, longer than the horizon"
    when = labels[int(earliest[u])] if earliest[u] < h else "a later quarter"
    return (f"lasts {rows.duration[u]} quarters and can start only after its "
            f"prerequisites, in {when}, so it would end after the horizon")


def _prepare(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    *,
    horizon: Any,
    budget: Any,
    capacity: Mapping[str, Any] | None,
    total_capacity: Any,
    discount_rate: float,
    quarters: Sequence[str] | None,
) -> _Problem:
    """Validate a request and work out each candidate's window of feasible start quarters."""
    limits = _limits(horizon, budget, capacity, total_capacity, discount_rate, quarters)
    h = limits.horizon
    rows = _rows(candidates)
    _check_mandatory(rows, h)
    edges = _edges(rows, dependencies)
    earliest, latest, required, why_not = _windows(rows, edges, h)
    unschedulable, reason = _unschedulable(rows, earliest, latest, required, why_not,
                                           limits.quarters)
    problem = _Problem(
        slugs=rows.slugs.to_numpy(dtype=object), owner=rows.owner, value=rows.value,
        cost=rows.cost, effort=rows.effort, duration=rows.duration,
        cand=np.flatnonzero(rows.is_cand), earliest=earliest, latest=latest, required=required,
        src=edges.src, dst=edges.dst, fixed=np.flatnonzero(rows.in_progress),
        fixed_start=rows.fixed_start, budget=limits.budget, capacity=limits.capacity,
        total_capacity=limits.total_capacity, horizon=h, quarters=limits.quarters,
        discount=limits.discount, unschedulable=tuple(sorted(unschedulable)), reason=reason,
    )
    if reason is None:
        problem = replace(problem, reason=_committed_overload(problem))
    return problem


def _deadline_reason(
    u: int, slugs: pd.Index, mandatory: np.ndarray, why_not: dict[int, str],
    earliest: np.ndarray, latest: np.ndarray, duration: np.ndarray, labels: tuple[str, ...],
    h: int,
) -> tuple[str, int | None, str | None]:
    """Explain why a required project has no feasible start quarter."""
    who = ("mandatory project " if mandatory[u] else "prerequisite of a mandatory project ")
    who += str(slugs[u])
    if u in why_not:
        return f"{who} {why_not[u]}", None, "prerequisites"
    first = int(earliest[u]) if math.isfinite(earliest[u]) else h
    if latest[u] < 0:
        return (f"{who} cannot start in time: it lasts {duration[u]} quarters and must start by "
                "the first quarter", 0, "deadline")
    last = int(latest[u])
    where = labels[first] if first < h else "after the horizon"
    return (f"{who} must start by {labels[last]} (its deadline, or to finish within the horizon "
            f"or before what depends on it) but its prerequisites let it start only in {where}",
            last, "deadline")


def _occupancy(start: int, duration: int, h: int) -> range:
    """Return the quarters inside the horizon a project starting at `start` runs in."""
    return range(max(start, 0), min(start + duration, h))


def _fixed_use(problem: _Problem) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Return what projects in progress spend per quarter: GBP, p-m per organisation, p-m."""
    h = problem.horizon
    money = np.zeros(h)
    total = np.zeros(h)
    orgs: dict[str, np.ndarray] = {}
    for u in problem.fixed.tolist():
        d = int(problem.duration[u])
        for q in _occupancy(int(problem.fixed_start[u]), d, h):
            money[q] += problem.cost[u] / d
            total[q] += problem.effort[u] / d
            orgs.setdefault(str(problem.owner[u]), np.zeros(h))[q] += problem.effort[u] / d
    return money, orgs, total


def _committed_overload(problem: _Problem) -> tuple[str, int | None, str | None] | None:
    """Name the first quarter where projects in progress alone exceed a limit."""
    money, orgs, total = _fixed_use(problem)
    for q in range(problem.horizon):
        if money[q] > problem.budget[q] * (1 + _FEASIBILITY_RTOL) + _FEASIBILITY_ATOL:
            return (f"in {problem.quarters[q]} projects in progress already spend "
                    f"GBP {money[q]:,.0f} but the budget is GBP {problem.budget[q]:,.0f}",
                    q, "budget")
        if total[q] > problem.total_capacity[q] * (1 + _FEASIBILITY_RTOL) + _FEASIBILITY_ATOL:
            return (f"in {problem.quarters[q]} projects in progress already need "
                    f"{total[q]:,.1f} person-months but the capacity is "
                    f"{problem.total_capacity[q]:,.1f}", q, "capacity")
        for org in sorted(orgs):
            cap = problem.capacity.get(org)
            if cap is not None and orgs[org][q] > cap[q] * (1 + _FEASIBILITY_RTOL) + 1e-6:
                return (f"in {problem.quarters[q]} {org}'s projects in progress already need "
                        f"{orgs[org][q]:,.1f} person-months but its capacity is {cap[q]:,.1f}",
                        q, f"capacity of {org}")
    return None


@dataclass(frozen=True)
class _Model:
    project: np.ndarray  # per variable: row position of the project
    start: np.ndarray  # per variable: start quarter
    c: np.ndarray
    matrix: sp.csr_array
    lower: np.ndarray
    upper: np.ndarray
    resource_rows: list[tuple[int, str]]  # (quarter, constraint) per resource row, in order
    scale: np.ndarray  # per resource row: GBP or person-months per unit of elastic slack
    n_vars: int


def _build(problem: _Problem, *, elastic: bool = False) -> _Model:
    """Build the time-indexed programme; `elastic` adds slack to resource rows (see `_explain`)."""
    h = problem.horizon
    first = np.where(np.isfinite(problem.earliest), problem.earliest, h).astype(np.int64)
    last = problem.latest.astype(np.int64)
    rows_p = problem.cand[first[problem.cand] <= last[problem.cand]]
    counts = last[rows_p] - first[rows_p] + 1
    project = np.repeat(rows_p, counts)
    offsets = np.arange(len(project)) - np.repeat(np.cumsum(counts) - counts, counts)
    start = np.repeat(first[rows_p], counts) + offsets
    nv = len(project)
    var_of = {int(u): (int(b), int(f)) for u, b, f in
              zip(rows_p.tolist(), (np.cumsum(counts) - counts).tolist(), first[rows_p].tolist(),
                  strict=True)}

    r_idx: list[np.ndarray] = []
    c_idx: list[np.ndarray] = []
    coef: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    row = 0

    # One start per project at most (exactly one when required).
    proj_row = np.searchsorted(rows_p, project)
    r_idx.append(proj_row)
    c_idx.append(np.arange(nv))
    coef.append(np.ones(nv))
    req = problem.required[rows_p].astype(float)
    lo.append(req)
    hi.append(np.ones(len(rows_p)))
    row += len(rows_p)

    # Resources: each variable spreads its cost and effort over the quarters it runs in.
    d = problem.duration[project]
    spread_var = np.repeat(np.arange(nv), d)
    spread_q = np.repeat(start, d) + (np.arange(int(d.sum())) - np.repeat(np.cumsum(d) - d, d))
    per_cost = (problem.cost[project] / d)[spread_var]
    per_effort = (problem.effort[project] / d)[spread_var]
    money, orgs_fixed, total_fixed = _fixed_use(problem)
    resource_rows: list[tuple[int, str]] = []
    res_limits: list[np.ndarray] = []

    def add_resource(mask: np.ndarray, amounts: np.ndarray, limit: np.ndarray, used: np.ndarray,
                     name: str) -> None:
        nonlocal row
        quarters = np.flatnonzero(np.isfinite(limit))
        if len(quarters) == 0:
            return
        local = np.full(h, -1)
        local[quarters] = np.arange(len(quarters))
        keep = mask & (local[spread_q] >= 0)
        r_idx.append(row + local[spread_q[keep]])
        c_idx.append(spread_var[keep])
        coef.append(amounts[keep])
        lo.append(np.full(len(quarters), -np.inf))
        hi.append(limit[quarters] - used[quarters])
        res_limits.append(limit[quarters])
        resource_rows.extend((int(q), name) for q in quarters)
        row += len(quarters)

    everything = np.ones(len(spread_var), dtype=bool)
    add_resource(everything, per_cost, problem.budget, money, "budget")
    add_resource(everything, per_effort, problem.total_capacity, total_fixed, "capacity")
    owner_of = problem.owner[project][spread_var]
    for org in sorted(problem.capacity):
        add_resource(owner_of == org, per_effort, problem.capacity[org],
                     orgs_fixed.get(org, np.zeros(h)), f"capacity of {org}")

    # Prerequisites: p may have started by t only if q had started by t - d_q.
    pr, pc, pv = [], [], []
    for p, q in zip(problem.src.tolist(), problem.dst.tolist(), strict=True):
        if p not in var_of:
            continue
        bp, fp = var_of[p]
        np_ = int(counts[np.searchsorted(rows_p, p)])
        bq, fq = var_of.get(q, (0, 0))
        nq = int(counts[np.searchsorted(rows_p, q)]) if q in var_of else 0
        dq = int(problem.duration[q])
        for t in range(fp, fp + np_):
            mine = np.arange(bp, bp + (t - fp + 1))
            theirs = np.arange(bq, bq + max(0, min(nq, t - dq - fq + 1))) if nq else np.zeros(
                0, dtype=np.int64)
            pr.append(np.full(len(mine) + len(theirs), row))
            pc.append(np.concatenate([mine, theirs]))
            pv.append(np.concatenate([np.ones(len(mine)), -np.ones(len(theirs))]))
            row += 1
    if pr:
        r_idx.extend(pr)
        c_idx.extend(pc)
        coef.extend(pv)
        n_prec = len(pr)
        lo.append(np.full(n_prec, -np.inf))
        hi.append(np.zeros(n_prec))

    c = -problem.value[project] * problem.discount[start] if nv else np.zeros(0)
    n_cols = nv
    n_res = len(resource_rows)
    scale = np.maximum(np.concatenate(res_limits), 1.0) if res_limits else np.zeros(0)
    if elastic:
        # One slack per resource row, scaled so a unit of slack is the row's whole limit.
        r_idx.append(len(rows_p) + np.arange(n_res))
        c_idx.append(nv + np.arange(n_res))
        coef.append(-scale)
        c = np.concatenate([np.zeros(nv), np.ones(n_res)])
        n_cols = nv + n_res
    matrix = sp.csr_array(
        (np.concatenate(coef) if coef else np.zeros(0),
         (np.concatenate(r_idx).astype(np.int64), np.concatenate(c_idx).astype(np.int64))),
        shape=(row, n_cols),
    )
    return _Model(project=project, start=start, c=c, matrix=matrix,
                  lower=np.concatenate(lo), upper=np.concatenate(hi),
                  resource_rows=resource_rows, scale=scale, n_vars=nv)


def _explain(problem: _Problem, time_limit: float) -> tuple[str, int | None, str | None]:
    """Find the first quarter and limit that the required projects cannot fit within."""
    model = _build(problem, elastic=True)
    n_res = len(model.resource_rows)
    integrality = np.concatenate([np.ones(model.n_vars), np.zeros(n_res)])
    # Imported when a plan is solved: a web worker that never solves one is spared it.
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(
        model.c, constraints=LinearConstraint(model.matrix, model.lower, model.upper),
        integrality=integrality,
        bounds=Bounds(np.zeros(model.n_vars + n_res),
                      np.concatenate([np.ones(model.n_vars), np.full(n_res, np.inf)])),
        options={"time_limit": float(time_limit), "disp": False},
    )
    generic = ("mandatory projects and their prerequisites cannot all start by their deadlines "
               "within the budget and capacities", None, None)
    if res.x is None:
        return generic
    slack = res.x[model.n_vars:]
    short = np.flatnonzero(slack > 1e-7)
    if len(short) == 0:
        return generic
    # The earliest quarter that is short, budget before capacities within it.
    k = min(short.tolist(), key=lambda i: (model.resource_rows[i][0], i))
    quarter, constraint = model.resource_rows[k]
    amount = float(slack[k] * model.scale[k])
    short_by = f"GBP {amount:,.0f}" if constraint == "budget" else f"{amount:,.1f} person-months"
    return (f"in {problem.quarters[quarter]} the {constraint} is short by {short_by} (in the "
            "nearest schedule) for the mandatory projects (and their prerequisites) to start by "
            "their deadlines",
            quarter, constraint)


def _result(problem: _Problem, project: np.ndarray, start: np.ndarray, **kw: Any) -> RoadmapResult:
    """Assemble a result from chosen (project row, start quarter) pairs."""
    h = problem.horizon
    money, orgs_fixed, total_fixed = _fixed_use(problem)
    money = money.copy()
    use = {org: arr.copy() for org, arr in orgs_fixed.items()}
    total = total_fixed.copy()

    def item(u: int, s: int, committed: bool) -> Start:
        return Start(slug=str(problem.slugs[u]), start=int(s), duration=int(problem.duration[u]),
                     owner=str(problem.owner[u]), cost_gbp=float(problem.cost[u]),
                     effort_pm=float(problem.effort[u]), value=float(problem.value[u]),
                     committed=committed)

    starts = sorted((item(int(u), int(s), False) for u, s in zip(project, start, strict=True)),
                    key=lambda x: (x.start, x.slug))
    for s in starts:
        u = s.duration
        for q in _occupancy(s.start, u, h):
            money[q] += s.cost_gbp / u
            total[q] += s.effort_pm / u
            use.setdefault(s.owner, np.zeros(h))[q] += s.effort_pm / u
    committed = sorted((item(int(u), int(problem.fixed_start[u]), True)
                        for u in problem.fixed.tolist()), key=lambda x: (x.start, x.slug))
    objective = float(sum(s.value * problem.discount[s.start] for s in starts))
    return RoadmapResult(
        starts=tuple(starts), committed=tuple(committed), objective=objective,
        value=float(sum(s.value for s in starts)), budget=tuple(problem.budget.tolist()),
        budget_used=tuple(money.tolist()),
        capacity={org: tuple(a.tolist()) for org, a in sorted(problem.capacity.items())},
        capacity_used={org: tuple(a.tolist()) for org, a in sorted(use.items())},
        horizon=h, quarters=problem.quarters, unschedulable=problem.unschedulable,
        total_capacity=(None if np.isinf(problem.total_capacity).all()
                        else tuple(problem.total_capacity.tolist())),
        **kw,
    )


def check_limits(result: RoadmapResult) -> None:
    """Raise AssertionError if a roadmap spends over a quarter's budget or a capacity."""
    for q, (used, limit) in enumerate(zip(result.budget_used, result.budget, strict=True)):
        if used > limit * (1 + _FEASIBILITY_RTOL) + _FEASIBILITY_ATOL:
            raise AssertionError(f"quarter {q}: GBP {used} over the budget {limit}")
    for org, caps in result.capacity.items():
        used_q = result.capacity_used.get(org, (0.0,) * result.horizon)
        for q, (used, limit) in enumerate(zip(used_q, caps, strict=True)):
            if used > limit * (1 + _FEASIBILITY_RTOL) + _FEASIBILITY_ATOL:
                raise AssertionError(f"quarter {q}: {org} uses {used} over its capacity {limit}")


def plan_roadmap(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    *,
    budget: float | Sequence[float],
    horizon: int = DEFAULT_HORIZON,
    capacity: Mapping[str, float | Sequence[float | None]] | None = None,
    total_capacity: float | Sequence[float | None] | None = None,
    discount_rate: float = 0.0,
    quarters: Sequence[str] | None = None,
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
) -> RoadmapResult:
    """Choose each candidate's start quarter maximising (discounted) value within the limits.

    `candidates` has columns slug, value (points), cost_gbp, effort_pm, owner, status,
    mandatory, duration (quarters), and optionally start (the start quarter of projects in
    progress, may be negative) and deadline (the last quarter a mandatory project may start in).
    `budget` is GBP per quarter, `capacity` person-months per quarter by owner (None or NaN for
    an unconstrained quarter), `discount_rate` a yearly rate. Raises `InvalidRoadmapRequest` for
    a request that cannot be posed; an infeasible one returns status ``infeasible`` naming the
    quarter and the constraint.
    """
    started = time.perf_counter()
    problem = _prepare(candidates, dependencies, horizon=horizon, budget=budget,
                       capacity=capacity, total_capacity=total_capacity,
                       discount_rate=discount_rate, quarters=quarters)
    none = np.zeros(0, dtype=np.int64)
    common = {"discount_rate": float(discount_rate)}
    if problem.reason is not None:
        return _result(problem, none, none, status="infeasible", gap=None,
                       infeasible_reason=problem.reason[0], infeasible_quarter=problem.reason[1],
                       infeasible_constraint=problem.reason[2],
                       solve_seconds=time.perf_counter() - started, **common)
    model = _build(problem)
    if model.n_vars == 0:
        return _result(problem, none, none, status="optimal", gap=0.0, infeasible_reason=None,
                       infeasible_quarter=None, infeasible_constraint=None,
                       solve_seconds=time.perf_counter() - started, **common)
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(
        model.c,
        constraints=LinearConstraint(model.matrix, model.lower, model.upper),
        integrality=np.ones(model.n_vars),
        bounds=Bounds(np.zeros(model.n_vars), np.ones(model.n_vars)),
        options={"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap),
                 "disp": False},
    )
    gap = None if res.mip_gap is None or not math.isfinite(res.mip_gap) else float(res.mip_gap)
    if gap is None and res.status == 0:
        gap = 0.0  # solved outright (presolve), proven optimal
    if res.x is None:
        text: str | None
        quarter: int | None
        constraint: str | None
        if res.status == 2:
            text, quarter, constraint = _explain(problem, time_limit)
        elif res.status == 1:
            text, quarter, constraint = None, None, None
        else:
            text, quarter, constraint = f"the solver failed: {res.message}", None, None
        status = "time_limit" if res.status == 1 else "infeasible"
        return _result(problem, none, none, status=status, gap=None, infeasible_reason=text,
                       infeasible_quarter=quarter, infeasible_constraint=constraint,
                       solve_seconds=time.perf_counter() - started,
                       message=(f"no feasible roadmap found within {time_limit:g} s"
                                if res.status == 1 else None), variables=model.n_vars, **common)
    chosen = res.x > 0.5
    result = _result(problem, model.project[chosen], model.start[chosen],
                     status="optimal" if res.status == 0 else "time_limit", gap=gap,
                     infeasible_reason=None, infeasible_quarter=None, infeasible_constraint=None,
                     solve_seconds=time.perf_counter() - started,
                     message=None if res.status == 0 else
                     f"stopped at the {time_limit:g} s time limit",
                     variables=model.n_vars, **common)
    check_limits(result)
    return result


def run_roadmap_in_subprocess(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    *,
    wall_clock_seconds: float,
    **kwargs: Any,
) -> RoadmapResult:
    """Run `plan_roadmap` in a spawned process killed after `wall_clock_seconds`.

    Request errors are raised here before any process starts; a killed run returns status
    ``time_limit`` with nothing scheduled.
    """
    keys = ("horizon", "budget", "capacity", "total_capacity", "discount_rate", "quarters")
    problem = _prepare(candidates, dependencies,
                       **{k: kwargs.get(k, _DEFAULTS[k]) for k in keys})
    started = time.perf_counter()
    finished, payload = run_with_wall_clock(plan_roadmap, (candidates, dependencies), kwargs,
                                            wall_clock_seconds)
    if finished:
        return replace(payload, solve_seconds=time.perf_counter() - started)
    none = np.zeros(0, dtype=np.int64)
    return _result(problem, none, none, status="time_limit", gap=None, infeasible_reason=None,
                   infeasible_quarter=None, infeasible_constraint=None,
                   solve_seconds=time.perf_counter() - started,
                   discount_rate=float(kwargs.get("discount_rate", 0.0)),
                   message=f"the roadmap process was stopped after {wall_clock_seconds:g} s")


_DEFAULTS: dict[str, Any] = {"horizon": DEFAULT_HORIZON, "budget": None, "capacity": None,
                             "total_capacity": None, "discount_rate": 0.0, "quarters": None}


__all__ = [
    "DEFAULT_HORIZON",
    "MAX_HORIZON",
    "InvalidRoadmapRequest",
    "RoadmapResult",
    "Start",
    "check_limits",
    "plan_roadmap",
    "project_duration",
    "quarter_index",
    "quarter_label",
    "quarter_start",
    "run_roadmap_in_subprocess",
]
