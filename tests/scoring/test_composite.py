"""Composite score: the DESIGN.md rules by hand, and their properties under hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scoring.composite import composite_scores, rank_by_composite
from scoring.criteria import Criterion, normalise_levels
from scoring.weights import InvalidWeights, WeightProfile, effective_weights

CRITERIA = [
    Criterion("residents_benefit", "impact"),
    Criterion("strategic_fit", "impact"),
    Criterion("cost", "feasibility", source="cost_band"),
    Criterion("effort", "feasibility", source="effort_band"),
    Criterion("data_readiness", "readiness", source="derived"),
]
KEYS = [c.key for c in CRITERIA]
PROFILE = WeightProfile(
    "balanced",
    {"impact": 2, "feasibility": 1, "readiness": 1},
    {"residents_benefit": 1, "strategic_fit": 3, "cost": 1, "effort": 1, "data_readiness": 1},
)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


def frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Build normalised values, one row per project, missing criteria as NaN."""
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=KEYS).astype(float)


def test_complete_project_is_scored_with_the_hand_computed_composite() -> None:
    values = frame(
        {
            "p1": {
                "residents_benefit": 1.0,
                "strategic_fit": 0.75,
                "cost": 0.0,
                "effort": 0.5,
                "data_readiness": 0.5,
            }
        }
    )
    result = composite_scores(values, CRITERIA, PROFILE)
    row = result.scores.loc["p1"]
    # impact (1*1 + 3*0.75)/4 = 0.8125; feasibility 0.25; readiness 0.5;
    # composite 100 * (2*0.8125 + 0.25 + 0.5) / 4 = 59.375.
    assert row["impact"] == pytest.approx(81.25)
    assert row["feasibility"] == pytest.approx(25.0)
    assert row["readiness"] == pytest.approx(50.0)
    assert row["composite"] == pytest.approx(59.375)
    assert row["coverage"] == pytest.approx(1.0)
    assert row["status"] == "scored"
    expected = {
        "residents_benefit": 12.5,
        "strategic_fit": 28.125,
        "cost": 0.0,
        "effort": 6.25,
        "data_readiness": 12.5,
    }
    assert result.contributions.loc["p1"].to_dict() == pytest.approx(expected)


def test_missing_readiness_renormalises_over_the_other_dimensions() -> None:
    values = frame(
        {"p": {"residents_benefit": 1.0, "strategic_fit": 1.0, "cost": 0.5, "effort": 0.5}}
    )
    row = composite_scores(values, CRITERIA, PROFILE).scores.loc["p"]
    assert row["status"] == "partial"
    assert np.isnan(row["readiness"])
    assert row["composite"] == pytest.approx(100 * (2 * 1.0 + 1 * 0.5) / 3)
    # readiness's effective weight is 1/4 of the profile.
    assert row["coverage"] == pytest.approx(0.75)


def test_missing_criterion_renormalises_within_its_dimension() -> None:
    values = frame(
        {"p": {"residents_benefit": 0.5, "cost": 1.0, "effort": 1.0, "data_readiness": 1.0}}
    )
    row = composite_scores(values, CRITERIA, PROFILE).scores.loc["p"]
    assert row["impact"] == pytest.approx(50.0)
    assert row["status"] == "partial"
    assert row["coverage"] == pytest.approx(1 - 0.5 * 3 / 4)


def test_project_without_impact_is_unscored_and_ranks_last() -> None:
    values = frame(
        {
            "a-no-impact": {"cost": 1.0, "effort": 1.0, "data_readiness": 1.0},
            "b-low": {"residents_benefit": 0.0, "strategic_fit": 0.0},
        }
    )
    result = composite_scores(values, CRITERIA, PROFILE)
    assert result.scores.loc["a-no-impact", "status"] == "unscored"
    assert np.isnan(result.scores.loc["a-no-impact", "composite"])
    assert result.contributions.loc["a-no-impact"].isna().all()
    # the dimensions it has are still shown
    assert result.scores.loc["a-no-impact", "feasibility"] == pytest.approx(100.0)
    assert result.scores.loc["b-low", "status"] == "partial"
    assert rank_by_composite(result.scores).to_dict() == {"b-low": 1, "a-no-impact": 2}


def test_dimension_whose_present_criteria_all_weigh_zero_counts_as_missing() -> None:
    profile = WeightProfile(
        "no-feasibility-criteria",
        {"impact": 1, "feasibility": 1, "readiness": 1},
        {"residents_benefit": 1, "strategic_fit": 1, "cost": 0, "effort": 0, "data_readiness": 1},
    )
    values = frame({"p": dict.fromkeys(KEYS, 0.5) | {"data_readiness": 1.0}})
    result = composite_scores(values, CRITERIA, profile)
    row = result.scores.loc["p"]
    assert np.isnan(row["feasibility"])
    assert row["composite"] == pytest.approx(100 * (0.5 + 1.0) / 2)
    assert row["status"] == "scored"  # every criterion has a value
    assert result.contributions.loc["p", "cost"] == 0.0


def test_zero_dimension_weight_keeps_the_dimension_out_of_the_composite() -> None:
    profile = WeightProfile(
        "impact-only",
        {"impact": 1, "feasibility": 0, "readiness": 0},
        dict.fromkeys(KEYS, 1.0),
    )
    values = frame({"p": dict.fromkeys(KEYS, 0.0) | {"residents_benefit": 1.0}})
    row = composite_scores(values, CRITERIA, profile).scores.loc["p"]
    assert row["composite"] == pytest.approx(50.0)
    assert row["feasibility"] == pytest.approx(0.0)


def test_only_zero_weight_impact_present_is_unweighted_not_unscored() -> None:
    profile = WeightProfile(
        "p",
        {"impact": 1, "feasibility": 1, "readiness": 1},
        dict.fromkeys(KEYS, 1.0) | {"strategic_fit": 0.0},
    )
    values = frame({"p": {"strategic_fit": 1.0, "cost": 1.0}, "q": {"cost": 1.0}})
    scores = composite_scores(values, CRITERIA, profile).scores
    # Issue 12: "unscored" is kept for no impact assessment at all.
    assert scores.loc["p", "status"] == "unweighted"
    assert scores.loc["q", "status"] == "unscored"
    assert scores["composite"].isna().all()


def test_status_categories_are_fixed() -> None:
    result = composite_scores(frame({"p": dict.fromkeys(KEYS, 1.0)}), CRITERIA, PROFILE)
    assert list(result.scores["status"].cat.categories) == [
        "scored", "partial", "unscored", "unweighted"]


def test_ties_rank_by_index_ascending() -> None:
    same = dict.fromkeys(KEYS, 0.5)
    values = frame({"zeta": same, "alpha": same, "mid": dict.fromkeys(KEYS, 0.75)})
    ranks = rank_by_composite(composite_scores(values, CRITERIA, PROFILE).scores)
    assert ranks.to_dict() == {"mid": 1, "alpha": 2, "zeta": 3}


def test_rank_accepts_a_composite_series() -> None:
    composite = pd.Series([10.0, np.nan, 30.0], index=[3, 1, 2])
    assert rank_by_composite(composite).to_dict() == {2: 1, 3: 2, 1: 3}


def test_values_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match="'cost': value 4 for project 'p' is not normalised"):
        composite_scores(frame({"p": {"cost": 4.0}}), CRITERIA, PROFILE)


def test_unknown_column_is_refused() -> None:
    with pytest.raises(ValueError, match="not criteria: typo"):
        composite_scores(pd.DataFrame({"typo": [0.5]}), CRITERIA, PROFILE)


def test_criterion_without_a_profile_weight_is_refused() -> None:
    profile = WeightProfile("thin", {"impact": 1, "feasibility": 1, "readiness": 1}, {"cost": 1})
    with pytest.raises(InvalidWeights, match="no weight for criterion"):
        composite_scores(frame({"p": {"cost": 0.5}}), CRITERIA, profile)


def test_empty_portfolio_gives_empty_frames() -> None:
    result = composite_scores(frame({}), CRITERIA, PROFILE)
    assert result.scores.empty and list(result.contributions.columns) == KEYS


# ---- properties ----------------------------------------------------------------------------

levels = st.one_of(st.none(), st.integers(1, 5))
readiness_values = st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0]))
project_rows = st.fixed_dictionaries(
    {key: readiness_values if key == "data_readiness" else levels for key in KEYS}
)
weights = st.one_of(st.just(0.0), st.floats(0.1, 10.0))


@st.composite
def profiles(draw: st.DrawFn) -> WeightProfile:
    """Draw a usable profile: weights may be zero, but something must carry weight."""
    dims = {d: draw(weights) for d in ("impact", "feasibility", "readiness")}
    assume(sum(dims.values()) > 0)
    profile = WeightProfile("drawn", dims, {k: draw(weights) for k in KEYS})
    try:
        effective_weights(CRITERIA, profile)
    except InvalidWeights:
        assume(False)
    return profile


@st.composite
def portfolios(draw: st.DrawFn, min_size: int = 1) -> pd.DataFrame:
    """Draw normalised values for a small portfolio, via levels like the real pipeline."""
    rows = draw(st.lists(project_rows, min_size=min_size, max_size=12))
    level_frame = pd.DataFrame(rows, index=[f"p{i:02d}" for i in range(len(rows))], dtype=float)
    return normalise_levels(level_frame.reindex(columns=KEYS), CRITERIA)


def scaled(profile: WeightProfile, factor: float) -> WeightProfile:
    """Return the profile with every weight multiplied by factor."""
    return WeightProfile(
        profile.name,
        {d: w * factor for d, w in profile.dimension_weights.items()},
        {c: w * factor for c, w in profile.criterion_weights.items()},
    )


@PROPERTY_SETTINGS
@given(values=portfolios(), profile=profiles(), factor=st.floats(1e-3, 1e3))
def test_scaling_all_weights_leaves_the_ranking_unchanged(values, profile, factor) -> None:
    before = composite_scores(values, CRITERIA, profile).scores
    after = composite_scores(values, CRITERIA, scaled(profile, factor)).scores
    pd.testing.assert_series_equal(rank_by_composite(before), rank_by_composite(after))
    np.testing.assert_allclose(before["composite"], after["composite"], rtol=0, atol=1e-9)


@PROPERTY_SETTINGS
@given(values=portfolios(), profile=profiles(), data=st.data())
def test_raising_a_level_never_lowers_that_projects_composite(values, profile, data) -> None:
    present = np.argwhere(values.notna().to_numpy() & (values.to_numpy() < 1.0))
    assume(len(present) > 0)
    i, j = present[data.draw(st.integers(0, len(present) - 1), label="cell")]
    raised = values.copy()
    old = values.iat[i, j]
    raised.iat[i, j] = data.draw(st.floats(old, 1.0), label="new value")
    before = composite_scores(values, CRITERIA, profile).scores["composite"].iat[i]
    after = composite_scores(raised, CRITERIA, profile).scores["composite"].iat[i]
    if np.isnan(before):
        assert np.isnan(after)
    else:
        assert after >= before - 1e-9


@PROPERTY_SETTINGS
@given(values=portfolios(), extra=portfolios(), profile=profiles())
def test_adding_a_project_leaves_every_other_composite_unchanged(values, extra, profile) -> None:
    newcomer = extra.iloc[:1].set_axis(["zz-new"])
    before = composite_scores(values, CRITERIA, profile).scores
    after = composite_scores(pd.concat([values, newcomer]), CRITERIA, profile).scores
    kept = after.loc[values.index]
    np.testing.assert_allclose(kept["composite"], before["composite"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(kept["coverage"], before["coverage"], rtol=0, atol=1e-12)
    assert (kept["status"] == before["status"]).all()


@PROPERTY_SETTINGS
@given(values=portfolios(), profile=profiles())
def test_contributions_add_up_to_the_composite(values, profile) -> None:
    result = composite_scores(values, CRITERIA, profile)
    scored = result.scores["status"].isin(["scored", "partial"])
    totals = result.contributions.loc[scored].sum(axis=1)
    np.testing.assert_allclose(totals, result.scores.loc[scored, "composite"], rtol=0, atol=1e-9)
    assert result.contributions.loc[scored].where(values.loc[scored].isna()).isna().all().all()


@PROPERTY_SETTINGS
@given(values=portfolios(), profile=profiles())
def test_scores_stay_in_range_and_status_follows_the_data(values, profile) -> None:
    scores = composite_scores(values, CRITERIA, profile).scores
    composite = scores["composite"].dropna()
    assert ((composite >= -1e-9) & (composite <= 100 + 1e-9)).all()
    assert ((scores["coverage"] >= -1e-12) & (scores["coverage"] <= 1 + 1e-12)).all()
    complete = values.notna().all(axis=1)
    scored = scores["status"].isin(["scored", "partial"])
    assert (scores.loc[complete & scored, "status"] == "scored").all()
    assert (scores.loc[~complete & scored, "status"] == "partial").all()
    weighted_impact = [
        k for k in ("residents_benefit", "strategic_fit") if profile.criterion_weights[k] > 0
    ]
    no_impact = values[weighted_impact].isna().all(axis=1)
    assert scores.loc[no_impact, "status"].isin(["unscored", "unweighted"]).all()
    any_impact = values[["residents_benefit", "strategic_fit"]].notna().any(axis=1)
    assert (scores.loc[~any_impact, "status"] == "unscored").all()
    assert (scores.loc[any_impact & ~scored, "status"] == "unweighted").all()
    assert scores.loc[~scored, "composite"].isna().all()
