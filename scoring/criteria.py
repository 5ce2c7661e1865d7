"""Criteria, their ordinal scales and the fixed reference bands for cost and effort."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# The dimensions, defined here once: everything else (engine, profiles, pages, snapshots,
# the stored check constraint) reads this tuple. Adding one is in docs/ARCHITECTURE.md.
DIMENSIONS: tuple[str, ...] = ("impact", "feasibility", "readiness")
SOURCES: tuple[str, ...] = ("assessed", "cost_band", "effort_band", "derived")

# Upper bounds (exclusive) of the reference bands in DESIGN.md, best band first.
COST_BAND_BOUNDS_GBP: tuple[float, ...] = (50_000.0, 250_000.0, 1_000_000.0, 5_000_000.0)
EFFORT_BAND_BOUNDS_PM: tuple[float, ...] = (6.0, 24.0, 60.0, 120.0)


@dataclass(frozen=True)
class Criterion:
    """Describe one scoring criterion and its absolute ordinal scale."""

    key: str
    dimension: str
    min_level: int = 1
    max_level: int = 5
    source: str = "assessed"

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("criterion key must not be empty")
        if self.dimension not in DIMENSIONS:
            raise ValueError(
                f"criterion {self.key!r}: dimension {self.dimension!r} is not one of {DIMENSIONS}"
            )
        if self.source not in SOURCES:
            raise ValueError(
                f"criterion {self.key!r}: source {self.source!r} is not one of {SOURCES}"
            )
        if int(self.min_level) != self.min_level or int(self.max_level) != self.max_level:
            raise ValueError(f"criterion {self.key!r}: scale bounds must be whole levels")
        if self.min_level >= self.max_level:
            raise ValueError(
                f"criterion {self.key!r}: min_level {self.min_level} must be below "
                f"max_level {self.max_level}"
            )


def criterion_keys(criteria: Sequence[Criterion]) -> list[str]:
    """Return the criteria's keys in order, refusing duplicates."""
    keys = [c.key for c in criteria]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"duplicate criterion keys: {', '.join(duplicates)}")
    return keys


def _band_level(amount: np.ndarray, bounds: tuple[float, ...], what: str) -> np.ndarray:
    amount = np.asarray(amount, dtype=np.float64)
    if np.any(amount < 0):  # NaN compares False, so missing values pass through
        raise ValueError(f"{what} must not be negative, got {np.nanmin(amount)!r}")
    # searchsorted(side="right") counts the bounds <= amount, i.e. how many bands it misses.
    missed = np.searchsorted(np.asarray(bounds), amount, side="right")
    level = (len(bounds) + 1 - missed).astype(np.float64)
    level[np.isnan(amount)] = np.nan
    return level


def cost_band_level(cost_gbp: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Map cost in GBP to its band level: < 50k 5, < 250k 4, < 1m 3, < 5m 2, else 1; NaN -> NaN."""
    if isinstance(cost_gbp, pd.Series):
        values = cost_gbp.to_numpy(dtype=np.float64, na_value=np.nan)
        level = _band_level(values, COST_BAND_BOUNDS_GBP, "cost")
        return pd.Series(level, index=cost_gbp.index, name=cost_gbp.name)
    return _band_level(cost_gbp, COST_BAND_BOUNDS_GBP, "cost")


def effort_band_level(effort_pm: np.ndarray | pd.Series) -> np.ndarray | pd.Series:
    """Map effort in person-months to its band level: < 6 5, < 24 4, < 60 3, < 120 2, else 1."""
    if isinstance(effort_pm, pd.Series):
        values = effort_pm.to_numpy(dtype=np.float64, na_value=np.nan)
        level = _band_level(values, EFFORT_BAND_BOUNDS_PM, "effort")
        return pd.Series(level, index=effort_pm.index, name=effort_pm.name)
    return _band_level(effort_pm, EFFORT_BAND_BOUNDS_PM, "effort")


def normalise_levels(levels: pd.DataFrame, criteria: Sequence[Criterion]) -> pd.DataFrame:
    """Map each criterion's level to (level - min) / (max - min) in [0, 1], NaN for missing.

    Columns are criterion keys; a criterion without a column is missing for every project.
    A `derived` criterion (data readiness) is already on [0, 1] and passes through unchanged.
    Assessed levels are whole or half (a median of two); raises ValueError naming the
    criterion and level for a level off its scale.
    """
    keys = criterion_keys(criteria)
    unknown = [c for c in levels.columns if c not in set(keys)]
    if unknown:
        raise ValueError(f"columns are not criteria: {', '.join(map(str, unknown))}")
    out = np.full((len(levels), len(keys)), np.nan)
    for j, criterion in enumerate(criteria):  # one pass per criterion, vectorised over projects
        if criterion.key not in levels.columns:
            continue
        level = levels[criterion.key].to_numpy(dtype=np.float64, na_value=np.nan)
        present = ~np.isnan(level)
        if criterion.source == "derived":
            low, high, whole = 0.0, 1.0, False
        else:
            low, high, whole = float(criterion.min_level), float(criterion.max_level), True
        # Half levels too: the median of an even number of assessors' levels.
        off = present & ((level < low) | (level > high)
                         | (whole & (2 * level != np.round(2 * level))))
        if off.any():
            bad = level[off][0]
            raise ValueError(
                f"criterion {criterion.key!r}: level {bad:g} is outside its scale "
                f"{low:g}..{high:g}" + (" (whole or half levels only)" if whole else "")
            )
        out[:, j] = (level - low) / (high - low)
    return pd.DataFrame(out, index=levels.index, columns=pd.Index(keys))
