"""Realised benefits against estimates: bands on the rubric's own scales, and accuracy.

A realised figure is placed on the same absolute scale its criterion was estimated on
(seeds/criterion_levels.csv), so estimate and result compare level for level:

    reach (people):      < 1,000 -> 1; < 10,000 -> 2; < 100,000 -> 3; < 1,000,000 -> 4; else 5
    savings (GBP/year):  0 -> 1; <= 100k -> 2; <= 500k -> 3; <= 2m -> 4; else 5

gap = estimated level - realised level: positive is optimistic (promised more than delivered).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REACH_BOUNDS = (1_000, 10_000, 100_000, 1_000_000)
SAVINGS_BOUNDS = (0, 100_000, 500_000, 2_000_000)
ACCURACY_COLUMNS = ["group", "projects", "mean_estimated_level", "mean_realised_level",
                    "mean_gap", "optimistic", "exact", "pessimistic", "median_reach_ratio"]


def reach_band(people: float | None) -> int | None:
    """Return the reach level (1-5) of a number of people reached."""
    if people is None or pd.isna(people):
        return None
    return 1 + int(np.searchsorted(REACH_BOUNDS, people, side="right"))


def savings_band(gbp: float | None) -> int | None:
    """Return the savings level (1-5) of savings or avoided cost in GBP a year."""
    if gbp is None or pd.isna(gbp):
        return None
    return 1 + int(np.searchsorted(SAVINGS_BOUNDS, gbp, side="left"))


def comparisons(realised: pd.DataFrame) -> pd.DataFrame:
    """Return one row per project and criterion with its estimated and realised level.

    `realised` has columns project, organisation, people_reached, savings_gbp,
    estimated_reach_level, estimated_savings_level, estimated_reach_people.
    """
    parts = []
    for criterion, figure, band in (("reach", "people_reached", reach_band),
                                    ("savings", "savings_gbp", savings_band)):
        frame = realised[["project", "organisation"]].copy()
        frame["criterion"] = criterion
        frame["estimated_level"] = realised[f"estimated_{criterion}_level"].astype(float)
        frame["realised_level"] = [band(v) for v in realised[figure]]
        frame["realised_level"] = frame["realised_level"].astype(float)
        frame["reach_ratio"] = (
            realised["people_reached"] / realised["estimated_reach_people"].where(
                realised["estimated_reach_people"] > 0)
            if criterion == "reach" else np.nan)
        parts.append(frame)
    if not parts or realised.empty:
        return pd.DataFrame(columns=["project", "organisation", "criterion", "estimated_level",
                                     "realised_level", "gap", "reach_ratio"])
    table = pd.concat(parts, ignore_index=True)
    table["gap"] = table["estimated_level"] - table["realised_level"]
    return table


def accuracy(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """Return estimate accuracy grouped by a column of comparisons() ("organisation", ...).

    Only projects with both an estimated and a realised level count; `optimistic` is the share
    whose estimate was above the result, `median_reach_ratio` realised / estimated people.
    """
    known = table.dropna(subset=["estimated_level", "realised_level"])
    rows = []
    for group, part in known.groupby(by, sort=True):
        ratios = table.loc[(table[by] == group) & (table["criterion"] == "reach"),
                           "reach_ratio"].dropna()
        rows.append({
            "group": group, "projects": int(part["project"].nunique()),
            "mean_estimated_level": float(part["estimated_level"].mean()),
            "mean_realised_level": float(part["realised_level"].mean()),
            "mean_gap": float(part["gap"].mean()),
            "optimistic": float((part["gap"] > 0).mean()),
            "exact": float((part["gap"] == 0).mean()),
            "pessimistic": float((part["gap"] < 0).mean()),
            "median_reach_ratio": float(ratios.median()) if len(ratios) else None,
        })
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)
