"""Benchmark the roadmap: the solver at 300 and 2,000 candidates, and the Roadmap page at 500.

Solver: synthetic candidates (as bench_plan's: random values, log-normal costs and efforts, about
one prerequisite each) owned by 60 organisations, durations 1-4 quarters from effort, a budget a
quarter and a capacity per organisation a quarter of 30% of what all candidates would spend in a
quarter if all ran at once. Baseline, same run: the single-period plan (scoring/plan.py) on the
same candidates with the whole horizon's budget and capacity.

Page: a synthetic portfolio of 500 projects in SQLite served by `portfolio serve`; the Roadmap page
(timeline and all, its solve kept per ranking run) against the Plan page for the same budget.

Board pack: `portfolio report` for the London seed against `portfolio rank` on the same database
(the same process start-up, reading and ranking, without the roadmap and the PDF).

    python -m bench.bench_roadmap                 # 300 candidates and the page
    python -m bench.bench_roadmap --big           # also 2,000 candidates x 8 x 60 (minutes)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx
import numpy as np

from bench.bench_plan import synthetic_candidates
from bench.common import (
    fresh_database,
    portfolio_server,
    prepare_database,
    print_table,
    sign_in,
    summary_ms,
    timed_get,
)
from scoring.plan import plan_portfolio
from scoring.roadmap import plan_roadmap, run_roadmap_in_subprocess

HORIZON = 8


def roadmap_instance(n: int, organisations: int = 60, seed: int = 0,
                     share: float = 0.3) -> dict[str, Any]:
    """Build n candidates over `organisations` owners with durations and per-quarter limits."""
    candidates, dependencies, budget, capacity = synthetic_candidates(n, seed, share)
    rng = np.random.default_rng(seed + 1)
    owners = np.array([f"org-{i:02d}" for i in range(organisations)], dtype=object)
    candidates["owner"] = owners[rng.integers(0, organisations, n)]
    candidates["duration"] = np.clip(np.ceil(candidates["effort_pm"] / 9.0), 1, 4).astype(int)
    per_quarter_cost = candidates["cost_gbp"] / candidates["duration"]
    per_quarter_effort = candidates["effort_pm"] / candidates["duration"]
    by_org = per_quarter_effort.groupby(candidates["owner"]).sum()
    capacities = {org: share * float(total) for org, total in by_org.items()}
    return {"candidates": candidates, "dependencies": dependencies,
            "budget": share * float(per_quarter_cost.sum()), "capacity": capacities,
            "plan_budget": budget, "plan_capacity": capacity}


def solver_case(n: int, *, time_limit: float, gap: float) -> dict[str, Any]:
    """Solve one roadmap and the single-period plan on the same candidates; return figures."""
    inst = roadmap_instance(n)
    started = time.perf_counter()
    plan = plan_portfolio(inst["candidates"], inst["dependencies"], inst["plan_budget"],
                          inst["plan_capacity"], time_limit=time_limit, mip_rel_gap=gap)
    plan_s = time.perf_counter() - started
    started = time.perf_counter()
    runner = run_roadmap_in_subprocess if n > 500 else None
    kwargs = {"horizon": HORIZON, "budget": inst["budget"], "capacity": inst["capacity"],
              "time_limit": time_limit, "mip_rel_gap": gap}
    if runner is not None:
        result = runner(inst["candidates"], inst["dependencies"],
                        wall_clock_seconds=time_limit * 1.5 + 15, **kwargs)
    else:
        result = plan_roadmap(inst["candidates"], inst["dependencies"], **kwargs)
    roadmap_s = time.perf_counter() - started
    return {
        "candidates": n, "quarters": HORIZON, "organisations": len(inst["capacity"]),
        "roadmap_s": roadmap_s, "status": result.status, "gap": result.gap,
        "variables": result.variables, "starts": len(result.starts),
        "plan_s": plan_s, "plan_status": plan.status, "ratio": roadmap_s / max(plan_s, 1e-9),
    }


def page_case(projects: int = 500, requests: int = 10) -> dict[str, Any]:
    """Time the Roadmap page against the Plan page over a synthetic portfolio in SQLite."""
    with fresh_database("sqlite") as url:
        prepare_database(url, projects)
        with portfolio_server(url) as base:
            cookies = sign_in(base, url)
            with httpx.Client(base_url=base, cookies=cookies, timeout=300) as client:
                # Budgets that leave both pages a plan; the capacity is not binding, so the
                # baseline is the single-period plan page at its cheapest.
                plan_url = "/plan?budget=20000000&capacity=100000"
                roadmap_url = "/plan/roadmap?budget=20000000"
                first = timed_get(client, roadmap_url, 1)[0]
                timed_get(client, plan_url, 1)
                plan = timed_get(client, plan_url, requests)
                roadmap = timed_get(client, roadmap_url, requests)
                bars = client.get(roadmap_url).text.count('rx="2"')
    p, r = summary_ms(plan), summary_ms(roadmap)
    return {"projects": projects, "bars": bars, "first_ms": first * 1000, "roadmap": r,
            "plan": p, "ratio_p50": r["p50_ms"] / max(p["p50_ms"], 1e-9)}


def board_pack_case() -> dict[str, float]:
    """Time `portfolio report` for the London seed against `portfolio rank` on it."""
    import tempfile
    from pathlib import Path

    from bench.common import run_cli

    with fresh_database("sqlite") as url, tempfile.TemporaryDirectory() as tmp:
        run_cli(["db", "upgrade"], url)
        run_cli(["seed", "london"], url)
        run_cli(["rank", "--top", "1"], url)  # the ranking is stored once for both
        rank_s = run_cli(["rank", "--top", "10"], url)
        report_s = run_cli(["report", "--out", str(Path(tmp) / "pack.pdf"), "--budget",
                            "1500000"], url)
        size = (Path(tmp) / "pack.pdf").stat().st_size
    return {"report_s": report_s, "rank_s": rank_s, "bytes": size,
            "ratio": report_s / max(rank_s, 1e-9)}


def main() -> None:
    """Parse flags and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also 2,000 candidates x 8 x 60")
    parser.add_argument("--sizes", type=int, nargs="+", default=[300], help="candidates")
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver limit, seconds")
    parser.add_argument("--gap", type=float, default=0.0, help="relative optimality gap")
    parser.add_argument("--no-page", action="store_true", help="skip the page benchmark")
    parser.add_argument("--no-pack", action="store_true", help="skip the board pack benchmark")
    args = parser.parse_args()
    sizes = list(args.sizes) + ([2000] if args.big and 2000 not in args.sizes else [])
    rows = []
    for n in sizes:
        c = solver_case(n, time_limit=args.time_limit, gap=args.gap)
        rows.append([f"{c['candidates']:,} x {c['quarters']} x {c['organisations']}",
                     f"{c['roadmap_s']:.2f}", c["status"],
                     "-" if c["gap"] is None else f"{c['gap']:.2e}", f"{c['variables']:,}",
                     c["starts"], f"{c['plan_s']:.2f}", f"{c['ratio']:.1f}x"])
    print_table(["roadmap", "seconds", "status", "gap", "variables", "starts",
                 "plan s (baseline)", "ratio"], rows)
    if not args.no_page:
        page = page_case()
        print()
        print_table(["page", "projects", "bars", "first ms", "p50 ms", "p95 ms",
                     "plan page p50 ms (baseline)", "ratio p50"],
                    [["roadmap", page["projects"], page["bars"], f"{page['first_ms']:.0f}",
                      f"{page['roadmap']['p50_ms']:.1f}", f"{page['roadmap']['p95_ms']:.1f}",
                      f"{page['plan']['p50_ms']:.1f}", f"{page['ratio_p50']:.1f}x"]])
    if not args.no_pack:
        pack = board_pack_case()
        print()
        print_table(["board pack", "seconds", "bytes", "portfolio rank s (baseline)", "ratio"],
                    [["London", f"{pack['report_s']:.2f}", f"{pack['bytes']:,}",
                      f"{pack['rank_s']:.2f}", f"{pack['ratio']:.1f}x"]])


if __name__ == "__main__":
    main()
