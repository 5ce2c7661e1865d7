"""SMAA-style robustness: reproducibility, agreement with the composite, the fragile rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.composite import composite_scores, rank_by_composite
from scoring.criteria import Criterion
from scoring.robustness import robustness, sample_weights
from scoring.weights import WeightProfile, effective_weights

CRITERIA = [
    Criterion("benefit", "impact"),
    Criterion("fit", "impact"),
    Criterion("cost", "feasibility"),
    Criterion("effort", "feasibility"),
    Criterion("data", "readiness", source="derived"),
]
KEYS = [c.key for c in CRITERIA]
PROFILE = WeightProfile(
    "balanced",
    {"impact": 2, "feasibility": 1, "readiness": 1},
    {"benefit": 2, "fit": 1, "cost": 1, "effort": 1, "data": 1},
)


def random_values(projects: int, seed: int, missing: float = 0.15) -> pd.DataFrame:
    """Draw continuous normalised values (no exact ties) with some missing."""
    rng = np.random.default_rng(seed)
    values = rng.random((projects, len(KEYS)))
    values[rng.random(values.shape) < missing] = np.nan
    index = pd.Index([f"project-{i:03d}" for i in range(projects)], name="project")
    return pd.DataFrame(values, index=index, columns=KEYS)


def test_same_seed_gives_the_same_result() -> None:
    values = random_values(60, seed=1)
    first = robustness(values, CRITERIA, PROFILE, top_k=5, samples=300, seed=7)
    second = robustness(values, CRITERIA, PROFILE, top_k=5, samples=300, seed=7)
    pd.testing.assert_frame_equal(first, second)


def test_different_seed_gives_a_different_result() -> None:
    values = random_values(60, seed=1)
    first = robustness(values, CRITERIA, PROFILE, top_k=5, samples=300, seed=7)
    other = robustness(values, CRITERIA, PROFILE, top_k=5, samples=300, seed=8)
    assert not first.equals(other)


def test_tight_concentration_reproduces_the_composite_ranking() -> None:
    values = random_values(80, seed=2)
    ranks = rank_by_composite(composite_scores(values, CRITERIA, PROFILE).scores)
    result = robustness(values, CRITERIA, PROFILE, top_k=10, samples=20, concentration=1e9)
    scored = result["rank_median"].notna()
    pd.testing.assert_series_equal(
        result.loc[scored, "rank_median"], ranks[scored].astype(float), check_names=False
    )
    assert (result.loc[scored, "rank_p05"] == result.loc[scored, "rank_p95"]).all()
    np.testing.assert_array_equal(result.loc[scored, "p_top_k"], (ranks[scored] <= 10) * 1.0)


def test_unscored_projects_are_not_ranked() -> None:
    values = random_values(10, seed=3, missing=0.0)
    values.loc["project-004", ["benefit", "fit"]] = np.nan
    result = robustness(values, CRITERIA, PROFILE, top_k=3, samples=50)
    row = result.loc["project-004"]
    assert row["p_top_k"] == 0.0 and np.isnan(row["rank_median"]) and not row["fragile"]
    assert result["rank_p95"].max() <= 9


def test_result_columns_and_index() -> None:
    values = random_values(12, seed=4)
    result = robustness(values, CRITERIA, PROFILE, top_k=3, samples=50)
    assert list(result.columns) == ["p_top_k", "rank_p05", "rank_p95", "rank_median", "fragile"]
    assert result.index.equals(values.index)
    assert result["fragile"].dtype == bool


def test_dominant_project_is_certain_and_a_coin_toss_is_fragile() -> None:
    values = pd.DataFrame(
        {
            "benefit": [1.0, 0.9, 0.1, 0.5, 0.0],
            "fit": [1.0, 0.1, 0.9, 0.5, 0.0],
            "cost": [1.0, 0.5, 0.5, 0.5, 0.0],
            "effort": [1.0, 0.5, 0.5, 0.5, 0.0],
            "data": [1.0, 0.5, 0.5, 0.5, 0.0],
        },
        index=["best", "benefit-heavy", "fit-heavy", "middling", "worst"],
    )
    equal = WeightProfile(
        "equal", {"impact": 1, "feasibility": 1, "readiness": 1}, dict.fromkeys(KEYS, 1.0)
    )
    result = robustness(values, CRITERIA, equal, top_k=2, samples=2000, concentration=20.0)
    assert result.loc["best", "p_top_k"] == 1.0 and not result.loc["best", "fragile"]
    # the two specialists trade second place depending on how benefit and fit are weighed
    assert 0.2 <= result.loc["benefit-heavy", "p_top_k"] <= 0.8
    assert result.loc["benefit-heavy", "fragile"] and result.loc["fit-heavy", "fragile"]
    assert result.loc["worst", "rank_p05"] == 5 and not result.loc["worst", "fragile"]


def test_sampled_weights_centre_on_the_profile_and_keep_zero_weights_zero() -> None:
    e = np.array([0.5, 0.3, 0.0, 0.2])
    draws = sample_weights(e, 20_000, 50.0, np.random.default_rng(0))
    assert (draws[:, 2] == 0).all()
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    np.testing.assert_allclose(draws.mean(axis=0), e, atol=5e-3)
    # Dirichlet variance e (1 - e) / (concentration + 1)
    np.testing.assert_allclose(draws[:, 0].var(), 0.25 / 51, rtol=0.1)


def test_zero_weight_criterion_gets_no_weight_in_any_sample() -> None:
    profile = WeightProfile(
        "no-cost", {"impact": 1, "feasibility": 1, "readiness": 1}, dict.fromkeys(KEYS, 1.0)
    )
    profile = WeightProfile(
        "no-cost", profile.dimension_weights, dict(profile.criterion_weights) | {"cost": 0.0}
    )
    values = random_values(30, seed=5, missing=0.0)
    shuffled = values.assign(cost=np.random.default_rng(9).random(30))
    first = robustness(values, CRITERIA, profile, top_k=5, samples=200)
    second = robustness(shuffled, CRITERIA, profile, top_k=5, samples=200)
    pd.testing.assert_frame_equal(first, second)
    assert effective_weights(CRITERIA, profile)["cost"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"top_k": 0}, "top_k"),
        ({"top_k": 1, "samples": 0}, "samples"),
        ({"top_k": 1, "concentration": 0.0}, "concentration"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        robustness(random_values(5, seed=0), CRITERIA, PROFILE, **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_sample_ranks_like_the_composite_under_the_sampled_weights(seed: int) -> None:
    values = random_values(80, seed=10 + seed, missing=0.25)
    result = robustness(
        values, CRITERIA, PROFILE, top_k=10, samples=1, concentration=3.0, seed=seed
    )
    # robustness draws its weights first from a fresh generator seeded the same way.
    e = effective_weights(CRITERIA, PROFILE).to_numpy()
    v = sample_weights(e, 1, 3.0, np.random.default_rng(seed))[0]
    dims = {
        d: float(sum(v[j] for j, c in enumerate(CRITERIA) if c.dimension == d))
        for d in ("impact", "feasibility", "readiness")
    }
    sampled = WeightProfile("sampled", dims, dict(zip(KEYS, v, strict=True)))
    ranks = rank_by_composite(composite_scores(values, CRITERIA, sampled).scores)
    scored = result["rank_median"].notna()
    np.testing.assert_array_equal(result.loc[scored, "rank_median"], ranks[scored])
