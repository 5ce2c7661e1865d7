"""Alternative prioritisation scores, RICE and WSJF, shown beside the composite.

Each is NaN for a project where any of its inputs is missing. Inputs given as Series are
aligned on their index (a DataFrame's columns always are); plain arrays are positional.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

# RICE's "massive / high / medium / low / minimal" impact multipliers for our 1-5 levels.
RICE_IMPACT: Mapping[int, float] = {1: 0.25, 2: 0.5, 3: 1.0, 4: 2.0, 5: 3.0}
# Job-size bands reuse DESIGN.md's effort bounds (6, 24, 60, 120 pm) and split off tiny jobs.
JOB_SIZE_BOUNDS_PM: tuple[float, ...] = (2.0, 6.0, 24.0, 60.0, 120.0)
JOB_SIZES: tuple[int, ...] = (1, 2, 3, 5, 8, 13)
ENABLEMENT_MAX = 5.0

MethodInput: TypeAlias = pd.Series | ArrayLike


def _columns(**inputs: MethodInput) -> pd.DataFrame:
    return pd.DataFrame(inputs).apply(pd.to_numeric, errors="raise").astype(np.float64)


def _check_range(values: pd.Series, name: str, low: float, high: float) -> None:
    off = values.notna() & ((values < low) | (values > high))
    if off.any():
        raise ValueError(f"{name} must lie in {low:g}..{high:g}, got {values[off].iloc[0]:g}")


def _check_whole(values: pd.Series, name: str) -> None:
    off = values.notna() & (values != values.round())
    if off.any():
        raise ValueError(f"{name} must be a whole level, got {values[off].iloc[0]:g}")


def rice_impact(impact_level: MethodInput) -> pd.Series:
    """Map a 1-5 impact level to RICE's multiplier: 1 0.25, 2 0.5, 3 1, 4 2, 5 3.

    A half level (the median of two assessors) takes the mean of its neighbours' multipliers.
    """
    level = _columns(level=impact_level)["level"]
    _check_range(level, "impact level", 1, 5)
    _check_whole(level * 2, "twice the impact level")
    low = np.floor(level).map(RICE_IMPACT).astype(np.float64)
    high = np.ceil(level).map(RICE_IMPACT).astype(np.float64)
    return ((low + high) / 2).rename("rice_impact")


def rice_score(
    reach_people: MethodInput,
    impact_level: MethodInput,
    confidence_pct: MethodInput,
    effort_pm: MethodInput,
) -> pd.Series:
    """Score RICE = reach (people) * impact multiplier * confidence (%) / 100 / effort (pm).

    Units: people reached per person-month of effort. Zero effort gives NaN, not infinity.
    """
    f = _columns(
        reach=reach_people, impact=impact_level, confidence=confidence_pct, effort=effort_pm
    )
    _check_range(f["reach"], "reach_people", 0, np.inf)
    _check_range(f["confidence"], "confidence_pct", 0, 100)
    _check_range(f["effort"], "effort_pm", 0, np.inf)
    multiplier = rice_impact(f["impact"])
    effort = f["effort"].where(f["effort"] > 0)
    score = f["reach"] * multiplier * f["confidence"] / 100.0 / effort
    return score.rename("rice")


def job_size(effort_pm: MethodInput) -> pd.Series:
    """Map effort (person-months) to job size: < 2 1, < 6 2, < 24 3, < 60 5, < 120 8, else 13."""
    effort = _columns(effort=effort_pm)["effort"]
    _check_range(effort, "effort_pm", 0, np.inf)
    band = np.searchsorted(np.asarray(JOB_SIZE_BOUNDS_PM), effort.to_numpy(), side="right")
    size = np.asarray(JOB_SIZES, dtype=np.float64)[np.minimum(band, len(JOB_SIZES) - 1)]
    return pd.Series(np.where(effort.isna(), np.nan, size), index=effort.index, name="job_size")


def opportunity_enablement(unblocked_projects: MethodInput, cap: int = 5) -> pd.Series:
    """Score enablement 0-5 as 5 * min(projects unblocked, cap) / cap."""
    count = _columns(count=unblocked_projects)["count"]
    _check_range(count, "unblocked project count", 0, np.inf)
    if cap <= 0:
        raise ValueError(f"cap must be positive, got {cap}")
    return (ENABLEMENT_MAX * count.clip(upper=cap) / cap).rename("opportunity_enablement")


def wsjf_score(
    impact_score: MethodInput,
    time_criticality: MethodInput,
    enablement: MethodInput,
    effort_pm: MethodInput,
) -> pd.Series:
    """Score WSJF = (impact/20 + time criticality + enablement) / job size, all on 0-5 scales.

    impact is the impact dimension score 0-100 (so value is 0-5), time criticality a 1-5
    level, enablement 0-5 (see `opportunity_enablement`), job size from `job_size`.
    """
    f = _columns(impact=impact_score, time=time_criticality, enable=enablement, effort=effort_pm)
    _check_range(f["impact"], "impact score", 0, 100)
    _check_range(f["time"], "time_criticality", 1, 5)
    _check_range(f["enable"], "opportunity enablement", 0, ENABLEMENT_MAX)
    cost_of_delay = f["impact"] / 20.0 + f["time"] + f["enable"]
    return (cost_of_delay / job_size(f["effort"])).rename("wsjf")


def method_scores(inputs: pd.DataFrame) -> pd.DataFrame:
    """Score RICE and WSJF for each row of a frame with the inputs as columns.

    Columns: reach_people, residents_benefit (1-5), confidence_pct, effort_pm, impact
    (dimension score 0-100), time_criticality (1-5), opportunity_enablement (0-5).
    """
    needed = (
        "reach_people",
        "residents_benefit",
        "confidence_pct",
        "effort_pm",
        "impact",
        "time_criticality",
        "opportunity_enablement",
    )
    missing = [c for c in needed if c not in inputs.columns]
    if missing:
        raise ValueError(f"inputs lack column(s): {', '.join(missing)}")
    rice = rice_score(
        inputs["reach_people"],
        inputs["residents_benefit"],
        inputs["confidence_pct"],
        inputs["effort_pm"],
    )
    wsjf = wsjf_score(
        inputs["impact"],
        inputs["time_criticality"],
        inputs["opportunity_enablement"],
        inputs["effort_pm"],
    )
    return pd.DataFrame({"rice": rice, "wsjf": wsjf}, index=inputs.index)
