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
    table = assessments[COLUMNS].assign(level=assessments["level"].astype(float))
    shared = table.duplicated(["slug", "criterion"], keep=False)
    if shared.any():
        # Only the cells with several assessors are grouped: most cells have one.
        medians = (table[shared].groupby(["slug", "criterion"], sort=False)["level"]
                   .median().reset_index())
        table = pd.concat([table[~shared], medians], ignore_index=True)
    return table.pivot(index="slug", columns="criterion", values="level")


def newest_per_assessor(record: np.ndarray, project: np.ndarray, criterion: np.ndarray,
                        assessor: np.ndarray) -> np.ndarray:
    """Return the positions of each assessor's newest row (highest record) per cell."""
    order = np.lexsort((record, assessor, criterion, project))
    p, c, a = project[order], criterion[order], assessor[order]
    last = np.ones(order.size, dtype=bool)
    last[:-1] = (p[1:] != p[:-1]) | (c[1:] != c[:-1]) | (a[1:] != a[:-1])
    return order[last]


def cell_medians(project: np.ndarray, criterion: np.ndarray,
                 level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return each cell's project, criterion and median level, and a mask of shared cells' rows.

    The input holds one current level per (project, criterion, assessor) as integer codes;
    the median is the one `aggregate_levels` takes, and a row is shared when its cell has
    several assessors (the rows `disputes` looks at).
    """
    n = project.size
    order = np.lexsort((level, criterion, project))
    p, c, sorted_levels = project[order], criterion[order], level[order].astype(np.float64)
    first = np.ones(n, dtype=bool)
    first[1:] = (p[1:] != p[:-1]) | (c[1:] != c[:-1])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, n))
    # Levels are sorted within a cell: the mean of its two middle ones (one when odd).
    median = 0.5 * (sorted_levels[starts + (counts - 1) // 2] + sorted_levels[starts + counts // 2])
    shared = np.zeros(n, dtype=bool)
    shared[order] = np.repeat(counts > 1, counts)
    return p[starts], c[starts], median, shared


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
    row_of = pd.Series(np.arange(len(rows)), index=pd.Index(rows))
    column_of = pd.Series(np.arange(len(criteria)), index=pd.Index([c.key for c in criteria]))
    table = assessments.loc[assessments["slug"].isin(row_of.index)
                            & assessments["criterion"].isin(column_of.index), COLUMNS]
    if table.empty:
        return Disputes(())
    grouped = table.groupby(["slug", "criterion"], sort=False)["level"]
    count = grouped.transform("count").to_numpy()
    disputed = (count > 1) & (grouped.transform("min").to_numpy()
                              != grouped.transform("max").to_numpy())
    if not disputed.any():
        return Disputes(())
    table = table[disputed].assign(m=count[disputed])
    low = table["criterion"].map({c.key: float(c.min_level) for c in criteria})
    high = table["criterion"].map({c.key: float(c.max_level) for c in criteria})
    table = table.assign(value=(table["level"].astype(float) - low) / (high - low))
    # Each cell's m levels end up consecutive and sorted, so a reshape gives (cells, m).
    table = table.sort_values(["m", "slug", "criterion", "value"], kind="stable")
    groups = []
    for m in sorted(table["m"].unique()):
        part = table[table["m"] == m]
        first = part.iloc[::m]
        positions = np.column_stack([row_of[first["slug"]].to_numpy(),
                                     column_of[first["criterion"]].to_numpy()]).astype(np.intp)
        groups.append((int(m), positions,
                       part["value"].to_numpy(dtype=np.float64).reshape(-1, int(m))))
    return Disputes(tuple(groups))
