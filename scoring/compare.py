"""Compare two rankings of the same projects: rank changes and rank correlation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RankComparison:
    """Hold the rank changes between two rankings and how closely they agree."""

    table: pd.DataFrame  # slug, rank_a, rank_b, change (rank_a - rank_b: positive moved up)
    spearman: float | None
    kendall: float | None
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]


def compare_rankings(rank_a: pd.Series, rank_b: pd.Series) -> RankComparison:
    """Compare ranks (1 = first) of the projects both rankings hold.

    Spearman's rho and Kendall's tau-b are computed over the common projects (None for fewer
    than two, or when either ranking is constant); the table is sorted by the size of the move,
    largest first, then by the rank under A.
    """
    common = rank_a.index.intersection(rank_b.index)
    table = pd.DataFrame({"slug": common, "rank_a": rank_a.reindex(common).to_numpy(),
                          "rank_b": rank_b.reindex(common).to_numpy()})
    table["change"] = table["rank_a"] - table["rank_b"]
    table = table.assign(size=table["change"].abs()).sort_values(
        ["size", "rank_a"], ascending=[False, True], kind="stable").drop(columns="size")
    spearman = kendall = None
    if len(table) >= 2 and table["rank_a"].nunique() > 1 and table["rank_b"].nunique() > 1:
        # Imported when two rankings are compared: scipy.stats (and the optimiser it loads)
        # is 40 MB that every web worker would carry for a page seldom opened.
        from scipy.stats import kendalltau, spearmanr

        spearman = float(spearmanr(table["rank_a"], table["rank_b"]).statistic)
        kendall = float(kendalltau(table["rank_a"], table["rank_b"]).statistic)
        spearman = None if math.isnan(spearman) else spearman
        kendall = None if math.isnan(kendall) else kendall
    return RankComparison(
        table=table.reset_index(drop=True), spearman=spearman, kendall=kendall,
        only_a=tuple(sorted(set(rank_a.index) - set(common))),
        only_b=tuple(sorted(set(rank_b.index) - set(common))),
    )
