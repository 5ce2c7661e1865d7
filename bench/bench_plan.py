"""Benchmark the exact portfolio plan (SciPy milp / HiGHS) on synthetic candidates.

Synthetic instance: random values 0-100, log-normal costs (GBP) and efforts (person-months),
about one prerequisite per project to an earlier project, budget and capacity 30% of the
totals. ``--pulp`` also solves the same formulation with PuLP's bundled CBC (PuLP is not a
project dependency: install it by hand to compare).

    python bench/bench_plan.py --sizes 5000 20000 [--pulp] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from scoring.plan import plan_portfolio


def synthetic_candidates(
    n: int, seed: int = 0, share: float = 0.3
) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    """Build n candidates, ~1 prerequisite each (to earlier ones), budget/capacity = share."""
    rng = np.random.default_rng(seed)
    slugs = np.array([f"project-{i:06d}" for i in range(n)], dtype=object)
    candidates = pd.DataFrame(
        {
            "slug": slugs,
            "value": rng.uniform(0, 100, n),
            "cost_gbp": np.round(rng.lognormal(12, 1, n), -3),
            "effort_pm": np.round(rng.lognormal(2, 0.8, n), 1),
            "mandatory": False,
            "status": rng.choice(["idea", "proposed", "approved", "paused"], n),
        }
    )
    count = rng.poisson(1.0, n)
    count[0] = 0
    src = np.repeat(np.arange(n), count)
    dst = (rng.random(len(src)) * src).astype(np.int64)
    pairs = np.unique(np.stack([src, dst], axis=1), axis=0)
    dependencies = pd.DataFrame({"project": slugs[pairs[:, 0]], "depends_on": slugs[pairs[:, 1]]})
    budget = share * float(candidates["cost_gbp"].sum())
    capacity = share * float(candidates["effort_pm"].sum())
    return candidates, dependencies, budget, capacity


def solve_with_cbc(
    candidates: pd.DataFrame,
    dependencies: pd.DataFrame,
    budget: float,
    capacity: float,
    time_limit: float,
    mip_rel_gap: float,
) -> dict[str, Any]:
    """Solve the same 0/1 model with PuLP's bundled CBC; return time, status, objective."""
    import pulp  # only for comparison: not a project dependency

    started = time.perf_counter()
    slugs = candidates["slug"].tolist()
    problem = pulp.LpProblem("portfolio", pulp.LpMaximize)
    x = {s: pulp.LpVariable(f"x{i}", cat="Binary") for i, s in enumerate(slugs)}
    values = candidates["value"].fillna(0.0).tolist()
    problem += pulp.lpSum(v * x[s] for s, v in zip(slugs, values, strict=True))
    problem += pulp.lpDot(candidates["cost_gbp"].tolist(), list(x.values())) <= budget
    problem += pulp.lpDot(candidates["effort_pm"].tolist(), list(x.values())) <= capacity
    for p, q in zip(dependencies["project"], dependencies["depends_on"], strict=True):
        problem += x[p] <= x[q]
    build = time.perf_counter() - started
    problem.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=mip_rel_gap))
    chosen = [s for s in slugs if (x[s].value() or 0) > 0.5]
    objective = float(candidates.set_index("slug").loc[chosen, "value"].sum())
    return {
        "seconds": time.perf_counter() - started,
        "build_seconds": build,
        "status": pulp.LpStatus[problem.status],
        "objective": objective,
        "n_selected": len(chosen),
    }


def run(
    sizes: Sequence[int] = (5000, 20000),
    seed: int = 0,
    time_limit: float = 60.0,
    mip_rel_gap: float = 0.0,
    pulp: bool = False,
    presolve: bool = False,
    verbose: bool = True,
) -> dict[int, dict[str, Any]]:
    """Plan each size; return per size the HiGHS figures (and CBC's when `pulp` is set)."""
    report: dict[int, dict[str, Any]] = {}
    for n in sizes:
        candidates, dependencies, budget, capacity = synthetic_candidates(n, seed)
        started = time.perf_counter()
        plan = plan_portfolio(
            candidates,
            dependencies,
            budget,
            capacity,
            time_limit=time_limit,
            mip_rel_gap=mip_rel_gap,
            presolve=presolve,
        )
        row: dict[str, Any] = {
            "candidates": n,
            "dependencies": len(dependencies),
            "highs_seconds": time.perf_counter() - started,
            "highs_status": plan.status,
            "highs_gap": plan.gap,
            "highs_objective": plan.objective,
            "highs_selected": len(plan.selected),
            "waves": len(plan.waves),
        }
        if pulp:
            cbc = solve_with_cbc(
                candidates, dependencies, budget, capacity, time_limit, mip_rel_gap
            )
            row.update({f"cbc_{k}": v for k, v in cbc.items()})
        report[n] = row
        if verbose:
            gap = "n/a" if plan.gap is None else f"{plan.gap:.2e}"
            print(
                f"{n:>6,} candidates, {len(dependencies):,} dependencies: HiGHS "
                f"{row['highs_seconds']:6.2f} s  {plan.status:<10} gap {gap}  "
                f"value {plan.objective:,.1f}  {len(plan.selected):,} selected in "
                f"{len(plan.waves)} waves"
            )
            if pulp:
                print(
                    f"{'':>6}  CBC   {row['cbc_seconds']:6.2f} s  {row['cbc_status']:<10} "
                    f"value {row['cbc_objective']:,.1f}  "
                    f"(model build {row['cbc_build_seconds']:.2f} s)"
                )
    return report


def main() -> None:
    """Parse flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000], help="candidates")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver limit, seconds")
    parser.add_argument("--gap", type=float, default=0.0,
                        help="relative optimality gap (0 proves optimality, as the app does)")
    parser.add_argument("--pulp", action="store_true", help="also solve with PuLP's CBC")
    parser.add_argument("--presolve", action="store_true", help="switch HiGHS presolve on")
    args = parser.parse_args()
    run(args.sizes, args.seed, args.time_limit, args.gap, args.pulp, args.presolve)


if __name__ == "__main__":
    main()
