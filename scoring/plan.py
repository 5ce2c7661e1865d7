"""Plan under constraints: exact 0/1 selection of projects by mixed-integer programming.

Maximise ``sum(value_p * x_p)`` (composite points; NaN counts as 0) over binary ``x_p`` for the
candidates (statuses idea, proposed, approved, paused) subject to:

- ``sum(cost_gbp_p * x_p) <= budget`` (GBP) and ``sum(effort_pm_p * x_p) <= capacity``
  (person-months);
- ``x_p <= x_q`` for each candidate prerequisite q of a candidate p; a prerequisite that is in
  progress or delivered counts as done, one that is rejected makes p unselectable, and one not in
  the table is ignored;
- ``x_p = 1`` for mandatory candidates and for `force_in`; ``x_p = 0`` for `force_out`.

Solved with SciPy's ``milp`` (HiGHS) on a sparse constraint matrix; it beat PuLP's bundled CBC
on this formulation at 1,000, 5,000 and 20,000 candidates (bench/bench_plan.py). HiGHS's presolve
is off by default: here it removes nothing, and at 20,000 candidates it used the whole 60 s limit
without finding a plan, where the solve without it took about 26 s. A selection is then
sequenced into waves, the topological layers of the dependencies among the selected projects.

Exactness: the solve runs with a zero relative gap (``mip_rel_gap=0``; HiGHS's default of 1e-4
stopped at a worse plan when many candidates have near-equal value per pound) and HiGHS's
absolute gap of 1e-6 points (``PROVEN_ABS_GAP``), far below the 0.005 points a displayed score
can show. A plan is labelled ``optimal`` only when HiGHS proves it so within those gaps; a
solve asked for a positive relative gap (the value-against-budget curve) that stops within it
is ``within_gap``, one stopped by the time limit ``time_limit``; both carry the gap HiGHS
reports.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scoring.graph import STATUSES, DependencyCycleError, topological_layers
from scoring.graph.arrays import (
    adjacency_lists,
    cycle_in,
    dependency_edges,
    flag,
    floats,
    isin,
    topological_order,
)

CANDIDATE_STATUSES: frozenset[str] = frozenset({"idea", "proposed", "approved", "paused"})
DONE_STATUSES: frozenset[str] = frozenset({"in_progress", "delivered"})
PLAN_STATUSES: tuple[str, ...] = ("optimal", "within_gap", "time_limit", "infeasible")
# HiGHS's default absolute MIP gap (points): SciPy's milp does not expose it, so it stays this.
PROVEN_ABS_GAP = 1e-6
# Relative slack when checking a solution against the budget and capacity (solver tolerances).
_FEASIBILITY_RTOL = 1e-9


class InvalidPlanRequest(ValueError):
    """Signal a plan request that cannot be posed (bad limits, unknown or contradictory slugs).

    `field` names the request's field at fault ("plan" when no one field is).
    """

    def __init__(self, message: str, field: str = "plan") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PlanResult:
    """Hold a plan: selected slugs, value (composite points), GBP and person-months used, waves."""

    selected: tuple[str, ...]
    objective: float
    budget_used: float
    capacity_used: float
    waves: tuple[tuple[str, ...], ...]
    status: str
    gap: float | None
    infeasible_reason: str | None
    solve_seconds: float
    budget: float = math.nan
    capacity: float = math.nan
    message: str | None = None


def _money(x: float) -> str:
    return f"GBP {x:,.0f}"


def _months(x: float) -> str:
    return f"{x:,.1f} person-months"


def _names(slugs: Iterable[str], limit: int = 5) -> str:
    items = sorted(slugs)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True)
class _Problem:
    slugs: np.ndarray  # candidate slugs, variable order
    value: np.ndarray
    cost: np.ndarray
    effort: np.ndarray
    src: np.ndarray  # x[src] <= x[dst]
    dst: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    reasons: tuple[str, ...]


def _limit(name: str, x: float) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        raise InvalidPlanRequest(f"{name} must be a number, got {x!r}") from None
    if not math.isfinite(x) or x < 0:
        raise InvalidPlanRequest(f"{name} must be a finite number of at least 0, got {x!r}")
    return x


def _checked_table(candidates: pd.DataFrame, fin: list[str],
                   fout: list[str]) -> tuple[pd.DataFrame, pd.Index, np.ndarray, np.ndarray]:
    """Refuse duplicate slugs, unknown statuses and bad forced sets; return the table's facts.

    Returns the table, its slugs, their statuses and which rows are candidates.
    """
    table = candidates.reset_index(drop=True)
    slugs_all = pd.Index(table["slug"].astype(str))
    if slugs_all.has_duplicates:
        raise InvalidPlanRequest(f"duplicate slugs: {_names(slugs_all[slugs_all.duplicated()])}")
    status = table["status"].astype(str).to_numpy(dtype=object)
    bad_status = sorted(set(status) - set(STATUSES))
    if bad_status:
        raise InvalidPlanRequest(f"unknown status value(s): {', '.join(bad_status)}")
    unknown = sorted({s for s in fin + fout if s not in slugs_all})
    if unknown:
        raise InvalidPlanRequest(f"unknown project(s) forced in or out: {_names(unknown)}",
                                 "force_in" if set(unknown) & set(fin) else "force_out")
    both = set(fin) & set(fout)
    if both:
        raise InvalidPlanRequest(f"project(s) forced both in and out: {_names(both)}",
                                 "force_out")
    is_candidate = isin(status, CANDIDATE_STATUSES)
    for forced, verb, field in ((fin, "in", "force_in"), (fout, "out", "force_out")):
        not_selectable = [s for s in forced if not is_candidate[slugs_all.get_loc(s)]]
        if not_selectable:
            detail = ", ".join(f"{s} ({status[slugs_all.get_loc(s)]})"
                               for s in sorted(not_selectable))
            raise InvalidPlanRequest(
                f"only idea, proposed, approved or paused projects can be forced {verb}: "
                + detail, field)
    return table, slugs_all, status, is_candidate


def _known_amounts(table: pd.DataFrame, cand: np.ndarray,
                   slugs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the candidates' cost and effort, refusing any missing or negative figure."""
    cost = floats(table["cost_gbp"])[cand]
    effort = floats(table["effort_pm"])[cand]
    for name, arr in (("cost_gbp", cost), ("effort_pm", effort)):
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            raise InvalidPlanRequest(
                f"{name} must be a known, non-negative number for every candidate; "
                f"missing or invalid for {_names(slugs[bad].tolist())}"
            )
    return cost, effort


def _candidate_edges(dependencies: pd.DataFrame | None, slugs_all: pd.Index,
                     status: np.ndarray, is_candidate: np.ndarray, position: np.ndarray,
                     slugs: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Return prerequisite edges between candidates, refusing a cycle, and rejected prerequisites.

    The edges are candidate positions (src waits on dst); the dict names, per candidate
    position, the first rejected project it waits on.
    """
    n = len(slugs)
    dep_src, dep_dst = dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        slugs_all,
    )
    from_candidate = is_candidate[dep_src]
    dep_src, dep_dst = dep_src[from_candidate], dep_dst[from_candidate]
    on_rejected = status[dep_dst] == "rejected"
    inner = is_candidate[dep_dst]
    src, dst = position[dep_src[inner]], position[dep_dst[inner]]
    if topological_order(n, dst, src) is None:
        raise DependencyCycleError(cycle_in(n, src, dst, slugs))
    rejected_prereq: dict[int, str] = {}
    for p, r in zip(
        position[dep_src[on_rejected]].tolist(), dep_dst[on_rejected].tolist(), strict=True
    ):
        rejected_prereq.setdefault(p, str(slugs_all[r]))
    return src, dst, rejected_prereq


def _spread(seeds: np.ndarray, neighbours: list[list[int]]) -> np.ndarray:
    """Return, per node, the seed it is reached from along neighbours (-1 when none)."""
    root_of = np.full(len(seeds), -1, dtype=np.int64)
    queue = deque(np.flatnonzero(seeds).tolist())
    for r in queue:
        root_of[r] = r
    while queue:
        u = queue.popleft()
        for q in neighbours[u]:
            if root_of[q] < 0:
                root_of[q] = root_of[u]
                queue.append(q)
    return root_of


def _conflicts(root_of: np.ndarray, mandatory: np.ndarray, slugs: np.ndarray,
               forced_out: np.ndarray, rejected_prereq: dict[int, str]) -> list[str]:
    """Say why what must be selected cannot be: forced out, or waiting on a rejected project."""
    required = root_of >= 0

    def why(root: int) -> str:
        return ("mandatory project " if mandatory[root] else "forced-in project ") + slugs[root]

    reasons: list[str] = []
    for u in np.flatnonzero(required & forced_out).tolist():
        root = int(root_of[u])
        if root == u:
            reasons.append(f"{why(u)} is forced out")
        else:
            reasons.append(f"{why(root)} needs {slugs[u]}, which is forced out")
    for u in np.flatnonzero(required).tolist():
        if u in rejected_prereq:
            root = int(root_of[u])
            via = "" if root == u else f" through {slugs[u]}"
            reasons.append(f"{why(root)} depends{via} on rejected project {rejected_prereq[u]}")
    return reasons


def _over_limits(need_cost: float, need_effort: float, budget: float,
                 capacity: float) -> list[str]:
    """Say when what must be selected alone costs more than the budget or the capacity."""
    reasons: list[str] = []
    if need_cost > budget:
        reasons.append(
            f"mandatory and forced-in projects (and their prerequisites) need {_money(need_cost)} "
            f"but the budget is {_money(budget)}"
        )
    if need_effort > capacity:
        reasons.append(
            "mandatory and forced-in projects (and their prerequisites) need "
            f"{_months(need_effort)} but the capacity is {_months(capacity)}"
        )
    return reasons


def _prepare(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    budget: float,
    capacity: float,
    force_in: Iterable[str],
    force_out: Iterable[str],
) -> _Problem:
    """Validate the request, build the 0/1 model and explain infeasibility found before solving."""
    budget = _limit("budget", budget)
    capacity = _limit("capacity", capacity)
    fin = [str(s) for s in force_in]
    fout = [str(s) for s in force_out]
    table, slugs_all, status, is_candidate = _checked_table(candidates, fin, fout)

    cand = np.flatnonzero(is_candidate)
    n = len(cand)
    slugs = slugs_all[cand].to_numpy(dtype=object)
    cost, effort = _known_amounts(table, cand, slugs)
    value = np.nan_to_num(floats(table["value"])[cand], nan=0.0)
    mandatory = flag(table, "mandatory")[cand]

    position = np.full(len(table), -1, dtype=np.int64)
    position[cand] = np.arange(n)
    src, dst, rejected_prereq = _candidate_edges(dependencies, slugs_all, status, is_candidate,
                                                 position, slugs)
    prereqs = adjacency_lists(src, dst, n)
    dependants = adjacency_lists(dst, src, n)
    forced_in = np.zeros(n, dtype=bool)
    forced_in[position[slugs_all.get_indexer(fin)]] = True
    forced_out = np.zeros(n, dtype=bool)
    out_idx = slugs_all.get_indexer(fout)
    out_idx = position[out_idx]
    forced_out[out_idx[out_idx >= 0]] = True

    # Closure of what must be selected: mandatory and forced-in projects with their prerequisites.
    root_of = _spread(mandatory | forced_in, prereqs)
    required = root_of >= 0
    reasons = _conflicts(root_of, mandatory, slugs, forced_out, rejected_prereq)
    reasons += _over_limits(float(cost[required].sum()), float(effort[required].sum()),
                            budget, capacity)

    # Fix what is decided already: it spares the solver work that presolve (off) would do.
    lower = required.astype(np.float64)
    excluded = forced_out.copy()
    excluded[list(rejected_prereq)] = True
    excluded = _spread(excluded, dependants) >= 0
    upper = np.where(excluded, 0.0, 1.0)
    return _Problem(
        slugs=slugs,
        value=value,
        cost=cost,
        effort=effort,
        src=src,
        dst=dst,
        lower=np.minimum(lower, upper) if reasons else lower,
        upper=upper,
        reasons=tuple(reasons),
    )


def _result(
    problem: _Problem,
    dependencies: pd.DataFrame | None,
    chosen: np.ndarray,
    *,
    status: str,
    gap: float | None,
    seconds: float,
    budget: float,
    capacity: float,
    reason: str | None = None,
    message: str | None = None,
) -> PlanResult:
    selected = sorted(problem.slugs[chosen].tolist())
    waves: list[list[str]] = []
    if selected and dependencies is not None:
        waves = topological_layers(
            dependencies.astype({"project": str, "depends_on": str}), selected
        )
    elif selected:
        waves = [selected]
    return PlanResult(
        selected=tuple(selected),
        objective=float(problem.value[chosen].sum()),
        budget_used=float(problem.cost[chosen].sum()),
        capacity_used=float(problem.effort[chosen].sum()),
        waves=tuple(tuple(w) for w in waves),
        status=status,
        gap=gap,
        infeasible_reason=reason,
        solve_seconds=seconds,
        budget=float(budget),
        capacity=float(capacity),
        message=message,
    )


def plan_portfolio(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    budget: float,
    capacity: float,
    force_in: Iterable[str] = (),
    force_out: Iterable[str] = (),
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
    *,
    presolve: bool = False,
) -> PlanResult:
    """Select projects maximising total value (points) within budget (GBP) and capacity (p-m).

    `candidates` has columns slug, value, cost_gbp, effort_pm, mandatory, status and may hold
    the whole portfolio (only idea, proposed, approved and paused projects are selectable).
    Raises `InvalidPlanRequest` for a request that cannot be posed; an infeasible request
    returns status ``infeasible`` with a reason. ``gap`` is HiGHS's relative optimality gap;
    status ``optimal`` only when HiGHS proved it (module docstring), ``time_limit`` otherwise.
    """
    started = time.perf_counter()
    problem = _prepare(candidates, dependencies, budget, capacity, force_in, force_out)
    budget, capacity = float(budget), float(capacity)
    n = len(problem.slugs)
    nothing = np.zeros(n, dtype=bool)
    if problem.reasons:
        return _result(
            problem,
            dependencies,
            nothing,
            status="infeasible",
            gap=None,
            seconds=time.perf_counter() - started,
            budget=budget,
            capacity=capacity,
            reason="; ".join(problem.reasons),
        )
    if n == 0:
        return _result(
            problem,
            dependencies,
            nothing,
            status="optimal",
            gap=0.0,
            seconds=time.perf_counter() - started,
            budget=budget,
            capacity=capacity,
        )

    m = len(problem.src)
    rows = np.concatenate([np.zeros(n), np.ones(n), 2 + np.arange(m), 2 + np.arange(m)])
    cols = np.concatenate([np.arange(n), np.arange(n), problem.src, problem.dst])
    coefs = np.concatenate([problem.cost, problem.effort, np.ones(m), -np.ones(m)])
    matrix = sp.csr_array((coefs, (rows, cols)), shape=(m + 2, n))
    upper_rows = np.concatenate([[budget, capacity], np.zeros(m)])
    # Imported when a plan is solved: a web worker that never solves one is spared it.
    from scipy.optimize import Bounds, LinearConstraint, milp

    res = milp(
        -problem.value,
        constraints=LinearConstraint(matrix, -np.inf, upper_rows),
        integrality=np.ones(n),
        bounds=Bounds(problem.lower, problem.upper),
        options={
            "time_limit": float(time_limit),
            "mip_rel_gap": float(mip_rel_gap),
            "presolve": bool(presolve),
            "disp": False,
        },
    )
    seconds = time.perf_counter() - started
    gap = None if res.mip_gap is None or not math.isfinite(res.mip_gap) else float(res.mip_gap)
    if res.x is None:
        if res.status == 1:
            return _result(
                problem,
                dependencies,
                nothing,
                status="time_limit",
                gap=None,
                seconds=seconds,
                budget=budget,
                capacity=capacity,
                message=f"no feasible plan found within {time_limit:g} s",
            )
        reason = (
            "no selection satisfies the budget, capacity, dependencies, mandatory projects and "
            "forced choices together"
            if res.status == 2
            else f"the solver could not solve the plan: {res.message}"
        )
        return _result(
            problem,
            dependencies,
            nothing,
            status="infeasible",
            gap=None,
            seconds=seconds,
            budget=budget,
            capacity=capacity,
            reason=reason,
        )
    chosen = res.x > 0.5
    used_cost, used_effort = problem.cost[chosen].sum(), problem.effort[chosen].sum()
    if used_cost > budget * (1 + _FEASIBILITY_RTOL) or used_effort > capacity * (
        1 + _FEASIBILITY_RTOL
    ):
        raise RuntimeError("the solver returned a plan over the budget or capacity")
    proven = res.status == 0 and (
        gap is None or gap == 0.0
        or gap * abs(float(problem.value[chosen].sum())) <= PROVEN_ABS_GAP)
    if proven:
        status, message = "optimal", None
    elif res.status == 0:
        status = "within_gap"
        message = f"not proven optimal: stopped within the relative gap of {mip_rel_gap:g} asked"
    else:
        status = "time_limit"
        message = f"not proven optimal: stopped at the {time_limit:g} s time limit"
    return _result(
        problem,
        dependencies,
        chosen,
        status=status,
        gap=gap,
        seconds=seconds,
        budget=budget,
        capacity=capacity,
        message=message,
    )


def _child(conn: Any, function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # HiGHS 1.12 prints stray debug lines from C++ straight to file descriptor 1; in this
    # throwaway process nothing else writes there, so silence it at the descriptor level.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        conn.send(("ok", function(*args, **kwargs)))
    except BaseException as exc:  # every failure, even KeyboardInterrupt, goes to the parent
        conn.send(("error", exc))
    finally:
        conn.close()


def run_with_wall_clock(
    function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], wall_clock_seconds: float
) -> tuple[bool, Any]:
    """Call a module-level `function` in a spawned process killed after `wall_clock_seconds`.

    Returns (True, its result), or (False, None) when the process was stopped; an exception in
    the child is raised here.
    """
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(sender, function, args, kwargs), daemon=True)
    process.start()
    sender.close()
    try:
        if receiver.poll(max(wall_clock_seconds, 0.0)):
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise RuntimeError(
                    f"the planning process died (exit code {process.exitcode})"
                ) from None
            if kind == "error":
                raise payload
            return True, payload
    finally:
        if process.is_alive():
            process.terminate()
            process.join(2.0)
            if process.is_alive():
                process.kill()
        process.join()
        receiver.close()
    return False, None


def run_plan_in_subprocess(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    budget: float,
    capacity: float,
    force_in: Iterable[str] = (),
    force_out: Iterable[str] = (),
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
    *,
    wall_clock_seconds: float | None = None,
    presolve: bool = False,
) -> PlanResult:
    """Run `plan_portfolio` in a spawned process and kill it after `wall_clock_seconds`.

    HiGHS can overrun its own time limit (notably in presolve), so the hard limit is enforced
    from outside; the default allows the solver's limit plus 50% and 15 s for the process to
    start. A killed run returns status ``time_limit`` with an empty selection and a message.
    Request errors (`InvalidPlanRequest`) are raised here before any process starts.
    """
    fin, fout = tuple(force_in), tuple(force_out)
    _prepare(candidates, dependencies, budget, capacity, fin, fout)  # fail fast, in-process
    wall = float(time_limit) * 1.5 + 15.0 if wall_clock_seconds is None else wall_clock_seconds
    started = time.perf_counter()
    args = (candidates, dependencies, budget, capacity, fin, fout, time_limit, mip_rel_gap)
    finished, payload = run_with_wall_clock(plan_portfolio, args, {"presolve": presolve}, wall)
    if finished:
        return replace(payload, solve_seconds=time.perf_counter() - started)
    return PlanResult(
        selected=(),
        objective=math.nan,
        budget_used=0.0,
        capacity_used=0.0,
        waves=(),
        status="time_limit",
        gap=None,
        infeasible_reason=None,
        solve_seconds=time.perf_counter() - started,
        budget=float(budget),
        capacity=float(capacity),
        message=f"the planning process was stopped after {wall:g} s of wall-clock time",
    )


def _frontier_child(conn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    try:
        conn.send(("ok", efficient_frontier(*args, **kwargs)))
    except BaseException as exc:  # every failure goes to the parent
        conn.send(("error", exc))
    finally:
        conn.close()


def run_frontier_in_subprocess(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    budgets: Sequence[float],
    capacity: float,
    *,
    wall_clock_seconds: float,
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
) -> pd.DataFrame:
    """Run `efficient_frontier` in a spawned process killed after `wall_clock_seconds`.

    The child shares most of the time among its solves; a killed run marks every budget
    ``time_limit``.
    """
    _prepare(candidates, dependencies, max(budgets, default=0.0), capacity, (), ())
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    args = (candidates, dependencies, tuple(budgets), capacity, (), (), time_limit)
    process = ctx.Process(target=_frontier_child, daemon=True, args=(
        sender, args, {"wall_clock_seconds": wall_clock_seconds * 0.8,
                       "mip_rel_gap": mip_rel_gap}))
    process.start()
    sender.close()
    try:
        if receiver.poll(max(wall_clock_seconds, 0.0)):
            try:
                kind, payload = receiver.recv()
            except EOFError:
                raise RuntimeError(
                    f"the planning process died (exit code {process.exitcode})") from None
            if kind == "error":
                raise payload
            return payload
    finally:
        if process.is_alive():
            process.terminate()
            process.join(2.0)
            if process.is_alive():
                process.kill()
        process.join()
        receiver.close()
    return efficient_frontier(candidates, dependencies, budgets, capacity,
                              wall_clock_seconds=0.0)


def efficient_frontier(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    budgets: Sequence[float],
    capacity: float,
    force_in: Iterable[str] = (),
    force_out: Iterable[str] = (),
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
    *,
    wall_clock_seconds: float | None = None,
) -> pd.DataFrame:
    """Return the best value (points) at each budget (GBP): one plan per budget.

    Columns: budget, objective (NaN when infeasible), n_selected, status, gap, budget_used,
    capacity_used. With `wall_clock_seconds`, all the solves share that time: each gets what
    is left, and budgets reached after it are not solved (status ``time_limit``).
    """
    fin, fout = tuple(force_in), tuple(force_out)
    deadline = None if wall_clock_seconds is None else time.monotonic() + wall_clock_seconds
    rows = []
    for b in budgets:
        left = time_limit if deadline is None else min(time_limit,
                                                       deadline - time.monotonic())
        if left <= 0:
            rows.append({"budget": float(b), "objective": math.nan, "n_selected": 0,
                         "status": "time_limit", "gap": None, "budget_used": 0.0,
                         "capacity_used": 0.0})
            continue
        plan = plan_portfolio(
            candidates, dependencies, b, capacity, fin, fout, left, mip_rel_gap
        )
        rows.append(
            {
                "budget": float(b),
                "objective": plan.objective if plan.status != "infeasible" else math.nan,
                "n_selected": len(plan.selected),
                "status": plan.status,
                "gap": plan.gap,
                "budget_used": plan.budget_used,
                "capacity_used": plan.capacity_used,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "budget",
            "objective",
            "n_selected",
            "status",
            "gap",
            "budget_used",
            "capacity_used",
        ],
    )


__all__ = [
    "CANDIDATE_STATUSES",
    "DONE_STATUSES",
    "PLAN_STATUSES",
    "InvalidPlanRequest",
    "PlanResult",
    "efficient_frontier",
    "plan_portfolio",
    "run_frontier_in_subprocess",
    "run_plan_in_subprocess",
    "run_with_wall_clock",
]
