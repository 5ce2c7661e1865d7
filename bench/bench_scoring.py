"""Time composite scoring and weight robustness against a bare numpy product of the same shape.

Run: python bench/bench_scoring.py [--projects 100000] [--samples 1000] [--robust-projects 10000]
Prints figures only; machines here are noisy, so each time is also given as a ratio to a
baseline measured in the same run. `run()` returns the figures for a suite to gather.

The order's robustness (what the backlog shows: the dependency-aware order rebuilt under each
weight sample) is timed at --robust-projects and at --projects, each against the score-only
robustness of the same projects and samples; at --projects it uses the sample count rule for
large portfolios (`scoring.robustness.order_samples`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.composite import composite_scores  # noqa: E402
from scoring.criteria import Criterion  # noqa: E402
from scoring.ranking import OrderStructure, ordered_with_structure  # noqa: E402
from scoring.robustness import order_robustness, order_samples, robustness  # noqa: E402
from scoring.weights import WeightProfile  # noqa: E402

MISSING_SHARE = 0.05


def bench_criteria() -> list[Criterion]:
    """Return twelve criteria shaped like the real set: 6 impact, 4 feasibility, 2 readiness."""
    return [
        *(Criterion(f"impact_{i}", "impact") for i in range(6)),
        Criterion("cost", "feasibility", source="cost_band"),
        Criterion("effort", "feasibility", source="effort_band"),
        *(Criterion(f"feasibility_{i}", "feasibility") for i in range(2)),
        Criterion("data_readiness", "readiness", source="derived"),
        Criterion("readiness_0", "readiness"),
    ]


def bench_data(
    projects: int, criteria: list[Criterion], seed: int
) -> tuple[pd.DataFrame, WeightProfile]:
    """Return random normalised values (levels 1-5, 5% missing) and a random profile."""
    rng = np.random.default_rng(seed)
    levels = rng.integers(1, 6, size=(projects, len(criteria))).astype(np.float64)
    values = (levels - 1.0) / 4.0
    values[rng.random(values.shape) < MISSING_SHARE] = np.nan
    frame = pd.DataFrame(
        values,
        index=pd.Index([f"project-{i:06d}" for i in range(projects)], name="project"),
        columns=[c.key for c in criteria],
    )
    profile = WeightProfile(
        "bench",
        dimension_weights={"impact": 0.5, "feasibility": 0.3, "readiness": 0.2},
        criterion_weights={c.key: float(rng.uniform(0.5, 2.0)) for c in criteria},
    )
    return frame, profile


def bench_order(values: pd.DataFrame, seed: int) -> OrderStructure:
    """Return the order's structure: random statuses, 2% mandatory, ~one dependency each."""
    rng = np.random.default_rng(seed)
    n = len(values)
    slugs = values.index.to_numpy()
    projects = pd.DataFrame({
        "slug": slugs,
        "status": rng.choice(["idea", "proposed", "approved", "in_progress", "paused"], n),
        "value": rng.uniform(0, 100, n), "mandatory": rng.random(n) < 0.02,
    })
    src = rng.integers(1, n, n)
    dst = (rng.random(n) * src).astype(int)  # earlier projects only: acyclic
    deps = pd.DataFrame({"project": slugs[src], "depends_on": slugs[dst]}).drop_duplicates()
    return ordered_with_structure(projects, deps)[1]


def order_figures(values: pd.DataFrame, profile: WeightProfile, criteria: list[Criterion],
                  samples: int, repeats: int, seed: int) -> tuple[float, float]:
    """Return the order's robustness time and the score-only robustness time, same shape."""
    structure = bench_order(values, seed)
    override = np.full(len(values), np.nan)
    order_s = best_of(lambda: order_robustness(values, criteria, profile, structure, override,
                                               top_k=10, samples=samples), repeats)
    score_s = best_of(lambda: robustness(values, criteria, profile, top_k=10, samples=samples),
                      repeats)
    return order_s, score_s


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Return the best wall-clock time of `repeats` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(
    projects: int = 100_000,
    samples: int = 1_000,
    robust_projects: int = 10_000,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Measure composite and robustness times and their ratios to same-shape numpy products."""
    criteria = bench_criteria()
    m = len(criteria)
    values, profile = bench_data(projects, criteria, seed)
    x64 = np.nan_to_num(values.to_numpy())
    dim_w = np.ones((m, 3))
    composite_s = best_of(lambda: composite_scores(values, criteria, profile), repeats)
    composite_base_s = best_of(lambda: x64 @ dim_w, repeats)

    robust_values, robust_profile = bench_data(robust_projects, criteria, seed + 1)
    x32 = np.nan_to_num(robust_values.to_numpy()).astype(np.float32)
    w32 = np.random.default_rng(seed).random((m, samples), dtype=np.float32)
    robust_s = best_of(
        lambda: robustness(robust_values, criteria, robust_profile, top_k=20, samples=samples),
        repeats,
    )
    robust_base_s = best_of(lambda: x32 @ w32, repeats)
    order_small_s, score_small_s = order_figures(robust_values, robust_profile, criteria,
                                                 samples, repeats, seed)
    large_samples = order_samples(samples, projects)
    # One repeat at the large size: each call takes seconds.
    order_large_s, score_large_s = order_figures(values, profile, criteria, large_samples, 1,
                                                 seed)
    # What the stored ranking paid before: the score-only robustness with every sample.
    previous_s = (score_large_s if large_samples == samples else best_of(
        lambda: robustness(values, criteria, profile, top_k=10, samples=samples), 1))
    return {
        "projects": projects,
        "criteria": m,
        "composite_s": composite_s,
        "composite_baseline_s": composite_base_s,
        "composite_ratio": composite_s / composite_base_s,
        "robust_projects": robust_projects,
        "samples": samples,
        "robustness_s": robust_s,
        "robustness_baseline_s": robust_base_s,
        "robustness_ratio": robust_s / robust_base_s,
        "order_robustness_s": order_small_s,
        "order_robustness_score_only_s": score_small_s,
        "order_robustness_ratio": order_small_s / score_small_s,
        "order_robustness_large_samples": large_samples,
        "order_robustness_large_s": order_large_s,
        "order_robustness_large_score_only_s": score_large_s,
        "order_robustness_large_ratio": order_large_s / score_large_s,
        "score_only_large_all_samples_s": previous_s,
        "order_robustness_large_vs_previous_ratio": order_large_s / previous_s,
    }


def main() -> None:
    """Parse the options, run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000, help="projects for composite")
    parser.add_argument("--samples", type=int, default=1_000, help="weight samples")
    parser.add_argument(
        "--robust-projects", type=int, default=10_000, help="projects for robustness"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats; the best is kept")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random data")
    args = parser.parse_args()
    r = run(args.projects, args.samples, args.robust_projects, args.repeats, args.seed)
    print(
        f"composite_scores  {r['projects']:>7,} x {r['criteria']} criteria: "
        f"{r['composite_s'] * 1e3:8.1f} ms  (aim < 500 ms; "
        f"{r['composite_ratio']:.0f}x a bare ({r['projects']:,}x{r['criteria']})@"
        f"({r['criteria']}x3) float64 product, {r['composite_baseline_s'] * 1e3:.2f} ms)"
    )
    print(
        f"robustness        {r['robust_projects']:>7,} x {r['samples']:,} samples: "
        f"{r['robustness_s'] * 1e3:8.1f} ms  (aim < 2000 ms; "
        f"{r['robustness_ratio']:.0f}x a bare ({r['robust_projects']:,}x{r['criteria']})@"
        f"({r['criteria']}x{r['samples']:,}) float32 product, "
        f"{r['robustness_baseline_s'] * 1e3:.2f} ms)"
    )
    print(
        f"order robustness  {r['robust_projects']:>7,} x {r['samples']:,} samples: "
        f"{r['order_robustness_s'] * 1e3:8.1f} ms  ({r['order_robustness_ratio']:.1f}x the "
        f"score-only robustness of the same shape, {r['order_robustness_score_only_s'] * 1e3:.0f}"
        " ms)"
    )
    print(
        f"order robustness  {r['projects']:>7,} x {r['order_robustness_large_samples']:,} "
        f"samples: {r['order_robustness_large_s'] * 1e3:8.1f} ms  "
        f"({r['order_robustness_large_ratio']:.1f}x the score-only robustness of the same shape, "
        f"{r['order_robustness_large_score_only_s'] * 1e3:.0f} ms; "
        f"{r['order_robustness_large_vs_previous_ratio']:.2f}x the score-only robustness with "
        f"all {r['samples']:,} samples, {r['score_only_large_all_samples_s'] * 1e3:.0f} ms)"
    )


if __name__ == "__main__":
    main()
