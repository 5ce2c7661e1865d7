"""Tests for scoring.rounding: displayed parts add up exactly to the displayed total."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.composite import composite_scores
from scoring.rounding import largest_remainder, round_each, round_parts, round_total
from tests.scoring.test_composite import CRITERIA, PROFILE

parts_lists = st.lists(st.floats(0.0, 100.0, allow_nan=False), min_size=1, max_size=14)


def shown(value: float, decimals: int) -> Decimal:
    """Return a figure as a JSON client would print it, as an exact decimal."""
    return Decimal(str(float(value))).quantize(Decimal(1).scaleb(-decimals))


@settings(max_examples=300, deadline=None)
@given(parts_lists, st.integers(0, 6))
def test_displayed_parts_always_add_up_to_the_displayed_total(
    parts: list[float], decimals: int,
) -> None:
    total = float(np.sum(parts))
    rounded = largest_remainder(np.array([parts]), np.array([total]), decimals)[0]
    shown_total = shown(round_total(total, decimals), decimals)
    assert sum((shown(p, decimals) for p in rounded), Decimal(0)) == shown_total
    # Each part moves by less than one unit of the last place shown.
    assert np.all(np.abs(rounded - np.array(parts)) < 10.0**-decimals + 1e-9)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([c.key for c in CRITERIA]),
                       st.floats(0.0, 1.0, allow_nan=False), min_size=1))
def test_contributions_of_any_scored_project_add_up_at_two_decimals(values: dict) -> None:
    import pandas as pd

    frame = pd.DataFrame([values], index=["p"])
    result = composite_scores(frame, CRITERIA, PROFILE)
    composite = result.scores.loc["p", "composite"]
    if np.isnan(composite):
        return
    contributions = result.contributions.loc["p"].dropna().to_dict()
    score = float(round_total(composite, 2))
    rounded = round_parts(contributions, composite, 2)
    assert sum((shown(v, 2) for v in rounded.values()), Decimal(0)) == shown(score, 2)


def test_missing_parts_stay_missing_and_get_no_unit() -> None:
    out = largest_remainder(np.array([[1.005, np.nan, 2.004]]), np.array([3.009]), 2)[0]
    assert np.isnan(out[1])
    assert round(out[0] + out[2], 2) == 3.01


def test_the_largest_remainder_gets_the_missing_unit() -> None:
    out = round_parts({"a": 33.333, "b": 33.333, "c": 33.334}, 100.0, 0)
    assert out == {"a": 33.0, "b": 33.0, "c": 34.0}
    assert sum(out.values()) == 100.0


def test_the_42_66_case_from_issue_12() -> None:
    parts = {"residents_benefit": 10.1234, "reach": 12.4567, "cost": 20.0762}
    total = sum(parts.values())  # 42.6563
    out = round_parts(parts, total, 2)
    assert float(round_total(total, 2)) == 42.66
    assert sum((Decimal(str(v)) for v in out.values()), Decimal(0)) == Decimal("42.66")


def _python_round(values: list[float], decimals: int) -> list[float]:
    """Return each value through Python's own round (NaN and infinities kept)."""
    return [v if not np.isfinite(v) else round(v, decimals) for v in values]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1,
                max_size=20), st.integers(min_value=0, max_value=6))
def test_round_each_is_pythons_round_for_any_float(values: list[float], decimals: int) -> None:
    shown = round_each(np.array(values), decimals).tolist()
    for got, want in zip(shown, _python_round(values, decimals), strict=True):
        same = got == want and np.signbit(got) == np.signbit(want)
        assert same or (np.isnan(got) and np.isnan(want))


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=-10**9, max_value=10**9), st.integers(min_value=0, max_value=4),
       st.integers(min_value=-4, max_value=4))
def test_round_each_is_pythons_round_next_to_a_half(units: int, decimals: int,
                                                     ulps: int) -> None:
    # Values within a few ulps of a half: where the float product may fall on either side.
    x = float((Decimal(units) + Decimal("0.5")) / Decimal(10) ** decimals)
    for _ in range(abs(ulps)):
        x = float(np.nextafter(x, np.inf if ulps > 0 else -np.inf))
    assert round_each(np.array([x]), decimals).tolist() == [round(x, decimals)]


def test_round_each_rounds_an_exact_half_to_even() -> None:
    assert round_each(np.array([0.125, 0.375, 2.5, -0.5]), 2).tolist() == [0.12, 0.38, 2.5, -0.5]
    assert round_each(np.array([2.5, 3.5, -2.5]), 0).tolist() == [2.0, 4.0, -2.0]


def test_round_each_refuses_places_where_its_unit_is_not_exact() -> None:
    with pytest.raises(ValueError, match="0-22 places"):
        round_each(np.array([1.5]), 23)
