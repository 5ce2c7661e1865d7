"""Comparing two rankings: rank changes and correlation."""

from __future__ import annotations

import pandas as pd
import pytest

from scoring.compare import compare_rankings


def test_identical_rankings_correlate_perfectly_and_nothing_moves() -> None:
    ranks = pd.Series({"a": 1, "b": 2, "c": 3})
    result = compare_rankings(ranks, ranks)
    assert result.spearman == pytest.approx(1.0)
    assert result.kendall == pytest.approx(1.0)
    assert (result.table["change"] == 0).all()


def test_reversed_rankings_correlate_at_minus_one_and_the_ends_move_most() -> None:
    a = pd.Series({"a": 1, "b": 2, "c": 3, "d": 4})
    b = pd.Series({"a": 4, "b": 3, "c": 2, "d": 1})
    result = compare_rankings(a, b)
    assert result.spearman == pytest.approx(-1.0)
    assert result.kendall == pytest.approx(-1.0)
    assert list(result.table["slug"][:2]) == ["a", "d"]
    assert dict(zip(result.table["slug"], result.table["change"], strict=True))["d"] == 3


def test_projects_in_one_ranking_only_are_listed_apart() -> None:
    result = compare_rankings(pd.Series({"a": 1, "b": 2}), pd.Series({"b": 1, "c": 2}))
    assert result.only_a == ("a",) and result.only_b == ("c",)
    assert result.spearman is None
