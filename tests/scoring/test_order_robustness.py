"""Robustness of the dependency-aware order itself: the rank shown is the rank described."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.composite import composite_scores
from scoring.ranking import dependency_aware_order, ordered_with_structure
from scoring.robustness import (
    FULL_SAMPLES_UP_TO,
    MIN_SAMPLES,
    order_robustness,
    order_samples,
    sample_weights,
)
from scoring.weights import WeightProfile, effective_weights
from tests.scoring.test_robustness import CRITERIA, KEYS, PROFILE

ACTIVE = ["idea", "proposed", "approved", "in_progress", "paused"]


def portfolio(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return projects (some mandatory, some overridden, one delivered), values, dependencies."""
    rng = np.random.default_rng(seed)
    slugs = [f"p{i:02d}" for i in range(n)]
    values = rng.random((n, len(KEYS)))
    values[rng.random(values.shape) < 0.15] = np.nan
    values[rng.random(n) < 0.1, :2] = np.nan  # some without impact: unscored
    frame = pd.DataFrame(values, index=pd.Index(slugs, name="slug"), columns=KEYS)
    status = rng.choice(ACTIVE, n).astype(object)
    status[0] = "delivered"
    override = np.where(rng.random(n) < 0.1, rng.uniform(0, 100, n), np.nan)
    projects = pd.DataFrame({"slug": slugs, "status": status,
                             "mandatory": rng.random(n) < 0.1, "override": override})
    src = rng.integers(1, n, n)
    dst = (rng.random(n) * src).astype(int)
    deps = pd.DataFrame({"project": np.array(slugs)[src], "depends_on": np.array(slugs)[dst]})
    return projects, frame, deps.drop_duplicates().reset_index(drop=True)


def reference(projects: pd.DataFrame, values: pd.DataFrame, deps: pd.DataFrame,
              samples: int, seed: int, top_k: int) -> pd.DataFrame:
    """Re-order the portfolio once per sample with the plain (float64) rules, then summarise."""
    e = effective_weights(CRITERIA, PROFILE).to_numpy()
    v = sample_weights(e, samples, 50.0, np.random.default_rng(seed)).astype(np.float32)
    dims = [c.dimension for c in CRITERIA]
    ranks = []
    override = pd.Series(projects["override"].to_numpy(), index=projects["slug"])
    for s in range(samples):
        weights = dict(zip(KEYS, v[s].astype(float), strict=True))
        profile = WeightProfile("sample", {d: sum(w for k, w in weights.items()
                                                  if dims[KEYS.index(k)] == d)
                                           for d in ("impact", "feasibility", "readiness")},
                                weights)
        composite = composite_scores(values, CRITERIA, profile).scores["composite"]
        priority = override.where(override.notna(), composite)
        order = dependency_aware_order(projects, deps, priority=priority)
        ranks.append(order.set_index("slug")["view_position"])
    table = pd.DataFrame(ranks)
    ordered = np.sort(table.to_numpy(), axis=0)
    last = samples - 1
    return pd.DataFrame({
        "p_top_k": (table <= top_k).mean().to_numpy(),
        "rank_p05": ordered[int(np.floor(0.05 * last))].astype(float),
        "rank_p95": ordered[int(np.ceil(0.95 * last))].astype(float),
    }, index=table.columns)


def test_order_robustness_equals_reordering_each_sample_by_the_rules() -> None:
    projects, values, deps = portfolio(40, seed=3)
    _order, structure, _ = ordered_with_structure(projects, deps)
    override = projects.set_index("slug")["override"].reindex(structure.slugs).to_numpy()
    result = order_robustness(values.reindex(structure.slugs), CRITERIA, PROFILE, structure,
                              override, top_k=5, samples=60, seed=11)
    expected = reference(projects, values, deps, samples=60, seed=11, top_k=5)
    pd.testing.assert_frame_equal(result[["p_top_k", "rank_p05", "rank_p95"]],
                                  expected.reindex(result.index), check_names=False)


def test_tight_weights_give_the_exact_rank_in_each_view() -> None:
    projects, values, deps = portfolio(60, seed=4)
    override = pd.Series(projects["override"].to_numpy(), index=projects["slug"])
    composite = composite_scores(values, CRITERIA, PROFILE).scores["composite"]
    order, structure, _ = ordered_with_structure(
        projects, deps, priority=override.where(override.notna(), composite))
    result = order_robustness(values.reindex(structure.slugs), CRITERIA, PROFILE, structure,
                              override.reindex(structure.slugs).to_numpy(), top_k=10,
                              samples=30, concentration=1e9)
    exact = order.set_index("slug")["view_position"].reindex(result.index).astype(float)
    pd.testing.assert_series_equal(result["rank_p05"], exact, check_names=False)
    pd.testing.assert_series_equal(result["rank_p95"], exact, check_names=False)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 50), st.integers(0, 10_000), st.integers(1, 12))
def test_intervals_are_ranks_in_the_view_and_blockers_stay_ahead(
    n: int, seed: int, top_k: int,
) -> None:
    projects, values, deps = portfolio(n, seed)
    order, structure, _ = ordered_with_structure(projects, deps)
    override = projects.set_index("slug")["override"].reindex(structure.slugs).to_numpy()
    result = order_robustness(values.reindex(structure.slugs), CRITERIA, PROFILE, structure,
                              override, top_k=top_k, samples=40, seed=seed)
    rows = order.set_index("slug").join(result)
    size = rows["view"].map(rows["view"].value_counts())
    assert (rows["rank_p05"] >= 1).all() and (rows["rank_p95"] <= size).all()
    assert (rows["rank_p05"] <= rows["rank_median"]).all()
    assert (rows["rank_median"] <= rows["rank_p95"]).all()
    assert rows["p_top_k"].between(0, 1).all()
    assert (rows.loc[size <= top_k, "p_top_k"] == 1.0).all()
    # A blocker in the same view is ahead in every sample, so in every order statistic too.
    for slug, blockers in rows["blocked_by"].items():
        for b in blockers:
            if rows.at[b, "view"] == rows.at[slug, "view"]:
                assert rows.at[b, "rank_p05"] < rows.at[slug, "rank_p05"]
                assert rows.at[b, "rank_p95"] < rows.at[slug, "rank_p95"]


def test_fewer_samples_only_at_very_large_portfolios() -> None:
    assert order_samples(1000, FULL_SAMPLES_UP_TO) == 1000
    assert order_samples(1000, 40_000) == 500
    assert order_samples(1000, 85_067) == 200
    assert order_samples(1000, 1_000_000) == MIN_SAMPLES
    assert order_samples(300, 40_000) == 300
    assert order_samples(0, 100_000) == 0
