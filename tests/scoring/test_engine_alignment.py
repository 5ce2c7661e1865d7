"""A ranking's frames are joined by position: the same rows as joining them by slug."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.criteria import DIMENSIONS
from scoring.engine import rank_portfolio
from scoring.weights import WeightProfile
from tests.scoring.test_whatif import ASSESSED, CRITERIA


def ranked(slugs: list, statuses: list[str], override: list[float], *, samples: int = 0,
           dependency: tuple[str, str] | None = None):
    """Rank a few projects assessed on three criteria, with one optional dependency."""
    n = len(slugs)
    projects = pd.DataFrame({
        "slug": slugs, "title": ["A project"] * n, "owner": ["GLA"] * n,
        "theme": ["housing"] * n, "status": statuses, "cost_gbp": [1.0] * n,
        "effort_pm": [1.0] * n, "mandatory": [False] * n, "priority_override": override,
        "reach_people": [np.nan] * n, "confidence_pct": [np.nan] * n,
        "time_criticality": [np.nan] * n})
    levels = pd.DataFrame({key: [1.0 + i for i in range(n)] for key in ASSESSED},
                          index=pd.Index(slugs, name="slug"))
    dependencies = pd.DataFrame([dependency] if dependency else [],
                                columns=["project", "depends_on"], dtype=object)
    links = pd.DataFrame(columns=["project", "dataset", "relation", "required", "fit_for_task",
                                  "agreement", "drl"])
    datasets = pd.DataFrame({"code": [], "drl": []}, dtype=object)
    profile = WeightProfile("even", {d: 1.0 for d in DIMENSIONS}, {c.key: 1.0 for c in CRITERIA})
    return rank_portfolio(projects, CRITERIA, levels, links, dependencies, datasets, profile,
                          samples=samples)


def test_a_portfolio_with_nothing_left_in_the_order_keeps_the_shapes_of_a_ranking() -> None:
    active = ranked(["p0", "p1"], ["idea", "delivered"], [np.nan, np.nan])
    for samples in (0, 60):
        gone = ranked(["p0", "p1"], ["delivered", "rejected"], [np.nan, np.nan], samples=samples)
        assert gone.rows.empty and gone.contributions.empty
        # The slug index keeps its text type and name, as joining by slug gave it.
        assert gone.contributions.index.dtype == active.contributions.index.dtype
        assert gone.contributions.index.name == "slug"
        assert list(gone.rows.columns) == list(active.rows.columns)


def test_projects_named_by_numbers_keep_their_own_override_and_unlock_value() -> None:
    # The order names projects by their slugs as text: each is still found by position.
    found = ranked([1, 2, 3], ["idea"] * 3, [np.nan, np.nan, 50.0], samples=60,
                   dependency=("1", "2")).rows.set_index("slug")
    assert found["override"].to_dict() == {"1": False, "2": False, "3": True}
    assert found.loc["2", "unlock_value"] > 0 and found.loc["1", "unlock_value"] == 0
