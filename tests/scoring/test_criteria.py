"""Criteria scales, reference bands and level normalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.criteria import (
    DIMENSIONS,
    Criterion,
    cost_band_level,
    effort_band_level,
    normalise_levels,
)

CRITERIA = [
    Criterion("residents_benefit", "impact"),
    Criterion("strategic_fit", "impact", min_level=0, max_level=10),
    Criterion("cost", "feasibility", source="cost_band"),
    Criterion("data_readiness", "readiness", source="derived"),
]


def test_dimensions_are_the_three_in_design_order() -> None:
    assert DIMENSIONS == ("impact", "feasibility", "readiness")


def test_criterion_refuses_an_unknown_dimension() -> None:
    with pytest.raises(ValueError, match="dimension 'value'"):
        Criterion("x", "value")


def test_criterion_refuses_an_unknown_source() -> None:
    with pytest.raises(ValueError, match="source 'guess'"):
        Criterion("x", "impact", source="guess")


def test_criterion_refuses_an_empty_scale() -> None:
    with pytest.raises(ValueError, match="min_level 3 must be below max_level 3"):
        Criterion("x", "impact", min_level=3, max_level=3)


def test_criterion_is_frozen() -> None:
    with pytest.raises(AttributeError):
        CRITERIA[0].key = "other"  # type: ignore[misc]


def test_cost_bands_follow_the_fixed_reference_bounds() -> None:
    cost = np.array([0, 49_999, 50_000, 249_999, 250_000, 999_999, 1e6, 4_999_999, 5e6, 1e9])
    expected = np.array([5, 5, 4, 4, 3, 3, 2, 2, 1, 1], dtype=float)
    np.testing.assert_array_equal(cost_band_level(cost), expected)


def test_effort_bands_follow_the_fixed_reference_bounds() -> None:
    effort = np.array([0, 5.9, 6, 23.9, 24, 59.9, 60, 119.9, 120, 500])
    expected = np.array([5, 5, 4, 4, 3, 3, 2, 2, 1, 1], dtype=float)
    np.testing.assert_array_equal(effort_band_level(effort), expected)


def test_band_levels_keep_missing_values_missing() -> None:
    level = cost_band_level(np.array([np.nan, 10.0]))
    assert np.isnan(level[0]) and level[1] == 5


def test_band_levels_of_a_series_keep_its_index_and_name() -> None:
    effort = pd.Series([3.0, None, 200.0], index=["a", "b", "c"], name="effort_pm")
    level = effort_band_level(effort)
    assert isinstance(level, pd.Series)
    assert list(level.index) == ["a", "b", "c"] and level.name == "effort_pm"
    assert level["a"] == 5 and np.isnan(level["b"]) and level["c"] == 1


def test_band_levels_refuse_a_negative_amount() -> None:
    with pytest.raises(ValueError, match="cost must not be negative"):
        cost_band_level(np.array([-1.0]))


def test_normalise_levels_maps_each_scale_onto_zero_to_one() -> None:
    levels = pd.DataFrame(
        {"residents_benefit": [1, 3, 5], "strategic_fit": [0, 5, 10], "cost": [2, None, 4]},
        index=["a", "b", "c"],
    )
    out = normalise_levels(levels, CRITERIA)
    assert list(out.columns) == [c.key for c in CRITERIA]
    np.testing.assert_allclose(out["residents_benefit"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(out["strategic_fit"], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(out["cost"], [0.25, np.nan, 0.75])


def test_normalise_levels_leaves_a_criterion_without_a_column_missing() -> None:
    out = normalise_levels(pd.DataFrame({"residents_benefit": [2]}), CRITERIA)
    assert out["data_readiness"].isna().all()


def test_normalise_levels_passes_derived_readiness_through() -> None:
    out = normalise_levels(pd.DataFrame({"data_readiness": [0.0, 0.4, 1.0]}), CRITERIA)
    np.testing.assert_allclose(out["data_readiness"], [0.0, 0.4, 1.0])


@pytest.mark.parametrize(
    ("column", "level", "message"),
    [
        ("residents_benefit", 6, "'residents_benefit': level 6 is outside its scale 1..5"),
        ("residents_benefit", 0, "'residents_benefit': level 0 is outside its scale 1..5"),
        ("strategic_fit", 11, "'strategic_fit': level 11 is outside its scale 0..10"),
        ("residents_benefit", 2.3, "'residents_benefit': level 2.3 is outside"),
        ("data_readiness", 1.5, "'data_readiness': level 1.5 is outside its scale 0..1"),
    ],
)
def test_normalise_levels_refuses_a_level_off_its_scale(
    column: str, level: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_levels(pd.DataFrame({column: [1.0, level]}), CRITERIA)


def test_normalise_levels_refuses_a_column_that_is_not_a_criterion() -> None:
    with pytest.raises(ValueError, match="not criteria: typo"):
        normalise_levels(pd.DataFrame({"typo": [1]}), CRITERIA)


def test_normalise_levels_refuses_duplicate_criteria() -> None:
    with pytest.raises(ValueError, match="duplicate criterion keys: cost"):
        normalise_levels(pd.DataFrame(), [*CRITERIA, Criterion("cost", "feasibility")])
