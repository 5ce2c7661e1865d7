"""RICE and WSJF, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.methods import (
    job_size,
    method_scores,
    opportunity_enablement,
    rice_impact,
    rice_score,
    wsjf_score,
)


def test_rice_impact_uses_the_massive_to_minimal_multipliers() -> None:
    np.testing.assert_allclose(rice_impact([1, 2, 3, 4, 5]), [0.25, 0.5, 1.0, 2.0, 3.0])


def test_rice_impact_refuses_a_level_off_the_scale() -> None:
    with pytest.raises(ValueError, match="impact level must lie in 1..5, got 6"):
        rice_impact([6])
    with pytest.raises(ValueError, match="whole level, got 4.6"):
        rice_impact([2.3])


def test_rice_impact_of_a_half_level_is_the_mean_of_its_neighbours() -> None:
    np.testing.assert_allclose(rice_impact([2.5, 4.5]), [0.75, 2.5])


def test_rice_score_by_hand() -> None:
    # 10,000 people * 2 (level 4) * 80% / 8 person-months = 2,000 people per person-month.
    score = rice_score([10_000], [4], [80], [8])
    assert score.iloc[0] == pytest.approx(2_000.0)


def test_rice_score_is_missing_where_an_input_is_missing_or_effort_is_zero() -> None:
    score = rice_score([1000, np.nan, 1000, 1000], [3, 3, None, 3], [50, 50, 50, 50], [2, 2, 2, 0])
    assert score.iloc[0] == pytest.approx(250.0)
    assert score.iloc[1:].isna().all()


def test_rice_score_refuses_confidence_above_one_hundred() -> None:
    with pytest.raises(ValueError, match="confidence_pct"):
        rice_score([1], [3], [120], [1])


@pytest.mark.parametrize(
    ("effort", "size"),
    [(0, 1), (1.9, 1), (2, 2), (5.9, 2), (6, 3), (23.9, 3), (24, 5), (60, 8), (119, 8), (120, 13)],
)
def test_job_size_follows_the_fibonacci_bands(effort: float, size: int) -> None:
    assert job_size([effort]).iloc[0] == size


def test_job_size_keeps_missing_effort_missing() -> None:
    assert job_size(pd.Series([np.nan])).isna().all()


def test_opportunity_enablement_caps_at_five() -> None:
    np.testing.assert_allclose(opportunity_enablement([0, 2, 5, 40]), [0.0, 2.0, 5.0, 5.0])
    np.testing.assert_allclose(opportunity_enablement([5], cap=10), [2.5])


def test_wsjf_score_by_hand() -> None:
    # value 80/20 = 4, time criticality 3, enablement 2 -> 9; 10 pm is job size 3 -> 3.
    assert wsjf_score([80.0], [3], [2.0], [10.0]).iloc[0] == pytest.approx(3.0)


def test_wsjf_score_is_missing_where_an_input_is_missing() -> None:
    assert wsjf_score([80.0, np.nan], [3, 3], [2.0, 2.0], [10.0, 10.0]).iloc[1:].isna().all()


def test_wsjf_refuses_time_criticality_off_the_scale() -> None:
    with pytest.raises(ValueError, match="time_criticality must lie in 1..5"):
        wsjf_score([50.0], [0], [0.0], [1.0])


def test_method_scores_align_on_the_frame_index() -> None:
    inputs = pd.DataFrame(
        {
            "reach_people": [10_000, 500],
            "residents_benefit": [4, None],
            "confidence_pct": [80, 100],
            "effort_pm": [8, 1],
            "impact": [80.0, 20.0],
            "time_criticality": [3, 5],
            "opportunity_enablement": [2.0, 0.0],
        },
        index=["alpha", "beta"],
    )
    out = method_scores(inputs)
    assert list(out.columns) == ["rice", "wsjf"]
    assert out.loc["alpha", "rice"] == pytest.approx(2_000.0)
    assert np.isnan(out.loc["beta", "rice"])
    assert out.loc["beta", "wsjf"] == pytest.approx((1 + 5 + 0) / 1)


def test_method_scores_refuse_missing_columns() -> None:
    with pytest.raises(ValueError, match="lack column"):
        method_scores(pd.DataFrame({"reach_people": [1]}))
