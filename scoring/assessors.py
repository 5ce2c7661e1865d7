"""Several assessors per criterion: the level that scores, the spread, and draws of the levels.

Input everywhere is the long table of current assessments, one row per (project, criterion,
assessor): columns `slug`, `criterion`, `level` (an assessor's newest level on that criterion).

- The level that scores is the **median** of the assessors' levels: with an odd count the
  middle level, with an even count the mean of the two middle ones (so it may be a half
  level). With one assessor it is that assessor's level.
- The spread is the lowest and highest level; assessors disagree when they differ.
- A draw of the levels (for robustness) resamples each cell's assessors with replacement
  (m of them, m the cell's count) and takes the median of the draw, so a drawn level is
  always between the lowest and the highest, and a cell whose assessors agree never moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.criteria import Criterion

AGGREGATE = "median"
COLUMNS = ["slug", "criterion", "level"]


def aggregate_levels(assessments: pd.DataFrame) -> pd.DataFrame:
    """Return the median level per project and criterion, projects by criteria (float)."""
    if assessments.empty:
        return pd.DataFrame()
    levels = assessments["level"].astype(float)
    keys = [assessments["slug"], assessments["criterion"]]
    if not assessments.duplicated(["slug", "criterion"]).any():
        # One assessor everywhere (the common case): no grouping to pay for.
        return (assessments.assign(level=levels)
                .pivot(index="slug", columns="criterion", values="level"))
    return levels.groupby(keys, sort=False).median().unstack("criterion")


def spread(assessments: pd.DataFrame) -> pd.DataFrame:
    """Return per project and criterion: median, low, high and the number of assessors."""
    if assessments.empty:
        return pd.DataFrame(columns=["slug", "criterion", "median", "low", "high", "assessors"])
    grouped = assessments.assign(level=assessments["level"].astype(float)).groupby(
        ["slug", "criterion"], sort=True)["level"]
    out = grouped.agg(median="median", low="min", high="max", assessors="count")
    return out.reset_index()


@dataclass(frozen=True)
class Disputes:
    """Cells whose assessors disagree, grouped by their number of assessors m."""

    # Per m: (cell positions as (row, criterion column) pairs, levels normalised (cells, m)).
    groups: tuple[tuple[int, np.ndarray, np.ndarray], ...]

    def __bool__(self) -> bool:
        return bool(self.groups)

    def draw(self, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return one draw: (positions, drawn normalised level) per group, in m order."""
        out = []
        for m, positions, levels in self.groups:
            picks = rng.integers(0, m, size=levels.shape)
            drawn = np.take_along_axis(levels, picks, axis=1)
            out.append((positions, np.median(drawn, axis=1)))
        return out


def disputes(assessments: pd.DataFrame | None, rows: Sequence[str],
             criteria: Sequence[Criterion]) -> Disputes:
    """Return the cells of these project rows whose assessors disagree, levels normalised.

    `rows` names each row of the caller's matrix (a slug); columns follow `criteria`.
    """
    if assessments is None or assessments.empty:
        return Disputes(())
    scales = {c.key: (c.min_level, c.max_level) for c in criteria}
    row_of = {slug: i for i, slug in enumerate(rows)}
    column_of = {c.key: j for j, c in enumerate(criteria)}
    table = assessments[assessments["slug"].isin(row_of)
                        & assessments["criterion"].isin(column_of)]
    if table.empty:
        return Disputes(())
    grouped = table.groupby(["slug", "criterion"], sort=True)["level"]
    counts = grouped.transform("count")
    lows, highs = grouped.transform("min"), grouped.transform("max")
    table = table[(counts > 1) & (lows != highs)]
    if table.empty:
        return Disputes(())
    cells: dict[int, tuple[list[tuple[int, int]], list[list[float]]]] = {}
    for (slug, key), levels in table.groupby(["slug", "criterion"], sort=True)["level"]:
        low, high = scales[key]
        normalised = sorted((float(v) - low) / (high - low) for v in levels)
        positions, values = cells.setdefault(len(normalised), ([], []))
        positions.append((row_of[slug], column_of[key]))
        values.append(normalised)
    return Disputes(tuple((m, np.asarray(cells[m][0], dtype=np.intp),
                           np.asarray(cells[m][1], dtype=np.float64)) for m in sorted(cells)))
