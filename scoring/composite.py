"""Composite score 0-100 with per-project weight renormalisation (DESIGN.md, "Composite score").

Missing-data rule, as implemented here:
- a dimension is present for a project when at least one of its criteria has a value and a
  positive profile weight; a dimension whose present criteria all weigh zero counts as missing;
- within a present dimension the criterion weights are renormalised over the present criteria,
  and across dimensions the dimension weights over the present dimensions;
- no composite when the impact dimension is missing or every present dimension has zero
  dimension weight; such a project is `unscored` when it has no value on any impact criterion
  at all, and `unweighted` when it has impact values but this profile weighs them (or every
  dimension it has) at zero, so another profile may score it; `scored`: every criterion has a
  value; otherwise `partial`;
- `coverage` is the share of the profile's effective weight (see `effective_weights`) whose
  criteria have a value, whatever the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.criteria import DIMENSIONS, Criterion, criterion_keys
from scoring.weights import WeightProfile, effective_weights, weight_arrays

STATUSES: tuple[str, ...] = ("scored", "partial", "unscored", "unweighted")
IMPACT = DIMENSIONS.index("impact")
# Composites closer than this (points) rank as ties, so rounding noise never reorders them.
RANK_TIE_DECIMALS = 9


@dataclass(frozen=True)
class CompositeResult:
    """Hold per-project scores and per-criterion contributions (points out of 100)."""

    scores: pd.DataFrame
    contributions: pd.DataFrame


def criterion_matrix(values: pd.DataFrame, criteria: Sequence[Criterion]) -> np.ndarray:
    """Return normalised values as a float64 (projects, criteria) array, NaN where missing."""
    keys = criterion_keys(criteria)
    unknown = [c for c in values.columns if c not in set(keys)]
    if unknown:
        raise ValueError(f"columns are not criteria: {', '.join(map(str, unknown))}")
    # A criterion without a column becomes a column of NaN: missing for every project.
    x = values.reindex(columns=keys).to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    outside = (x < 0.0) | (x > 1.0)  # NaN compares False
    if outside.any():
        i, j = np.argwhere(outside)[0]
        raise ValueError(
            f"criterion {keys[j]!r}: value {x[i, j]:g} for project {values.index[i]!r} "
            "is not normalised to [0, 1]"
        )
    return x


def presence(dim_weight_present: np.ndarray, dim_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return which dimensions each project has (n, k) and which projects get a composite (n,).

    `dim_weight_present` is the profile weight of each dimension's criteria that have a value;
    a dimension counts only through criteria that both have a value and carry weight.
    """
    dim_present = dim_weight_present > 0.0
    total = dim_present @ dim_w
    scored = dim_present[:, IMPACT] & (total > 0.0)
    return dim_present, scored


def composite_scores(
    values: pd.DataFrame, criteria: Sequence[Criterion], profile: WeightProfile
) -> CompositeResult:
    """Score projects 0-100: composite = 100 * sum_d W_d' * sum_c w_c' * x_c over present values.

    `values` holds normalised criterion values in [0, 1] (NaN for missing), one row per
    project. W_d' and w_c' are the profile weights renormalised per project over what is
    present (module docstring). Contribution of c = 100 * W_d' * w_c' * x_c points; rows of
    `contributions` add up to `composite` (NaN for a missing value, 0 for a zero weight).
    """
    x = criterion_matrix(values, criteria)
    w, dim_w, member = weight_arrays(criteria, profile)
    e = effective_weights(criteria, profile).to_numpy()
    k = len(DIMENSIONS)

    missing = np.isnan(x)
    x[missing] = 0.0  # x is our own copy; zeros drop out of the weighted sums
    by_dim = member * w[:, None]  # (criteria, dimensions): weight of c inside d
    # One product gives each dimension's present weight and, in the last column, coverage.
    present_weight = (~missing).astype(np.float64) @ np.column_stack([by_dim, e])
    dim_weight_present, coverage = present_weight[:, :k], present_weight[:, k]
    dim_weighted_sum = x @ by_dim
    dim_present, scored = presence(dim_weight_present, dim_w)
    live_dim_weight = dim_present * dim_w
    total = live_dim_weight.sum(axis=1)

    with np.errstate(invalid="ignore", divide="ignore"):
        dim_score = np.where(dim_present, 100.0 * dim_weighted_sum / dim_weight_present, np.nan)
        # Points per unit of w_c * x_c: 100 * W_d / (present W total) / (present w in d).
        scale = np.where(
            dim_present & scored[:, None],
            100.0 * live_dim_weight / (dim_weight_present * total[:, None]),
            0.0,
        )
    points = scale @ member.T.astype(np.float64)
    points *= w
    points *= x
    # Summing the contributions themselves keeps them and the composite exactly consistent.
    composite = np.where(scored, points.sum(axis=1), np.nan)
    points[missing] = np.nan
    points[~scored] = np.nan

    # Codes index STATUSES: 0 scored, 1 partial, 2 unscored, 3 unweighted.
    has_impact = (~missing[:, member[:, IMPACT] > 0]).any(axis=1)
    codes = np.where(scored, missing.any(axis=1).astype(np.int8),
                     np.where(has_impact, np.int8(3), np.int8(2)))
    index = values.index
    numbers = np.column_stack([composite, dim_score, coverage])
    # copy=False: the arrays are this call's own, so pandas need not copy them again.
    scores = pd.DataFrame(
        numbers, index=index, columns=["composite", *DIMENSIONS, "coverage"], copy=False
    )
    scores["status"] = pd.Categorical.from_codes(codes, categories=list(STATUSES))
    contributions = pd.DataFrame(
        points, index=index, columns=pd.Index(criterion_keys(criteria)), copy=False
    )
    return CompositeResult(scores=scores, contributions=contributions)


def rank_by_composite(scores: pd.DataFrame | pd.Series) -> pd.Series:
    """Rank projects 1..n by descending composite; unscored last; ties by index ascending.

    Accepts the `scores` frame (its `composite` column) or a composite Series. Composites
    equal to 1e-9 points tie.
    """
    composite = scores["composite"] if isinstance(scores, pd.DataFrame) else scores
    c = np.round(composite.to_numpy(dtype=np.float64, na_value=np.nan), RANK_TIE_DECIMALS)
    missing = np.isnan(c)
    index_order = np.empty(len(c), dtype=np.int64)
    index_order[composite.index.argsort(kind="stable")] = np.arange(len(c))
    # lexsort's last key is the primary one: scored first, then high composite, then index.
    order = np.lexsort((index_order, -np.where(missing, 0.0, c), missing))
    ranks = np.empty(len(c), dtype=np.int64)
    ranks[order] = np.arange(1, len(c) + 1)
    return pd.Series(ranks, index=composite.index, name="rank")
