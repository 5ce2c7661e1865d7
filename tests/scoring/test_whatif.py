"""A what-if re-ranking from kept parts gives exactly the full ranking's figures."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.criteria import DIMENSIONS, Criterion
from scoring.engine import rank_portfolio
from scoring.readiness import AGREEMENT_SCORES, DRL_SCORES, FIT_SCORES
from scoring.weights import InvalidWeights, WeightProfile, normalise_weights
from scoring.whatif import build_base, page_table, rank_with

CRITERIA = (
    Criterion("residents_benefit", "impact"),
    Criterion("reach", "impact"),
    Criterion("cost", "feasibility", source="cost_band"),
    Criterion("effort", "feasibility", source="effort_band"),
    Criterion("skills", "feasibility"),
    Criterion("data_readiness", "readiness", source="derived"),
)
ASSESSED = ["residents_benefit", "reach", "skills"]
STATUSES = ["idea", "proposed", "approved", "in_progress", "paused", "delivered", "rejected"]
COMPARED = ("slug", "position", "view", "view_position", "status", "composite", *DIMENSIONS,
            "coverage", "score_status", "priority", "effective_priority", "mandatory",
            "effective_mandatory", "blocked_by", "unblocks", "blocked_by_other_view", "rice",
            "wsjf", "bottleneck_dataset", "override", "unlock_value")

maybe = st.one_of(st.none(), st.floats(0, 5000, allow_nan=False))
weight = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 3.0])


@st.composite
def portfolios(draw: st.DrawFn) -> dict:
    """Draw rank_portfolio's inputs: projects, levels, acyclic dependencies, links, datasets."""
    n = draw(st.integers(1, 14))
    slugs = [f"p{i}" for i in draw(st.permutations(range(n)))]

    def column(strategy: st.SearchStrategy) -> list:
        """Draw one value per project."""
        return draw(st.lists(strategy, min_size=n, max_size=n))

    projects = pd.DataFrame({
        "slug": slugs, "title": [f"Project {s}" for s in slugs],
        "owner": column(st.sampled_from(["GLA", "E09000001"])),
        "theme": column(st.sampled_from(["housing", "transport"])),
        "status": column(st.sampled_from(STATUSES)),
        "cost_gbp": column(st.one_of(st.none(), st.floats(0, 5e6))),
        "effort_pm": column(st.one_of(st.none(), st.floats(0, 200))),
        "mandatory": column(st.booleans()),
        # Ties between an override and a composite, and between overrides, are drawn often.
        "priority_override": column(st.one_of(st.none(), st.none(),
                                              st.sampled_from([0.0, 50.0, 100.0]))),
        "reach_people": column(maybe), "confidence_pct": column(st.one_of(
            st.none(), st.floats(0, 100))),
        "time_criticality": column(st.one_of(st.none(), st.integers(1, 5))),
    }).astype({c: float for c in ("cost_gbp", "effort_pm", "priority_override", "reach_people",
                                  "confidence_pct", "time_criticality")})
    levels = pd.DataFrame({key: column(st.one_of(st.just(math.nan), st.integers(1, 5)))
                           for key in ASSESSED}, index=pd.Index(slugs, name="slug"),
                          dtype=float)
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                          max_size=2 * n))
    # A later place depends on an earlier one; the slug permutation hides the order.
    order = [f"p{i}" for i in range(n)]
    dependencies = pd.DataFrame(
        sorted({(order[max(i, j)], order[min(i, j)]) for i, j in pairs if i != j}),
        columns=["project", "depends_on"], dtype=object)
    codes = [f"d{i}" for i in range(draw(st.integers(0, 3)))]
    links = pd.DataFrame(
        [(draw(st.sampled_from(slugs)), draw(st.sampled_from(codes)),
          draw(st.sampled_from(["uses", "uses", "produces"])), draw(st.booleans()),
          draw(st.sampled_from(list(FIT_SCORES))), draw(st.sampled_from(list(AGREEMENT_SCORES))),
          draw(st.sampled_from(list(DRL_SCORES))))
         for _ in range(draw(st.integers(0, 2 * n)) if codes else 0)],
        columns=["project", "dataset", "relation", "required", "fit_for_task", "agreement",
                 "drl"])
    datasets = pd.DataFrame({"code": codes, "drl": [draw(st.sampled_from(list(DRL_SCORES)))
                                                    for _ in codes]}, dtype=object)
    profile = WeightProfile(
        "drawn", {d: draw(weight) + 0.1 for d in DIMENSIONS},
        {c.key: draw(weight) for c in CRITERIA})
    return {"projects": projects, "criteria": CRITERIA, "levels": levels, "links": links,
            "dependencies": dependencies, "datasets": datasets, "profile": profile}


def comparable(rows: pd.DataFrame) -> list[dict]:
    """Return the compared columns of ranked rows as plain values (NaN as None)."""
    table = rows.reset_index(drop=True)[list(COMPARED)].astype(object)
    table["score_status"] = table["score_status"].astype(str)
    return table.where(table.notna(), None).to_dict("records")


@settings(max_examples=100, deadline=None)
@given(portfolios(), st.lists(st.fixed_dictionaries({d: weight for d in DIMENSIONS}),
                              min_size=1, max_size=3))
def test_slider_moves_give_the_full_rankings_figures(portfolio: dict, moves: list) -> None:
    try:
        base = build_base(**portfolio)
    except ValueError:
        return  # a profile whose criteria all weigh zero is refused by both
    for move in moves:
        if sum(move.values()) <= 0:
            continue
        weights = normalise_weights(move)
        try:
            full = rank_portfolio(**{**portfolio, "profile": replace(
                portfolio["profile"], dimension_weights=weights)}, samples=0)
        except InvalidWeights:
            with pytest.raises(InvalidWeights):
                rank_with(base, weights)
            continue
        whatif = rank_with(base, weights)
        page = page_table(whatif, np.argsort(whatif.position))
        assert comparable(page.rows) == comparable(full.rows)
        pd.testing.assert_frame_equal(page.contributions, full.contributions, check_exact=True,
                                      check_names=False)


@settings(max_examples=60, deadline=None)
@given(portfolios(), st.data())
def test_any_page_of_a_whatif_is_that_slice_of_the_whole(portfolio: dict,
                                                         data: st.DataObject) -> None:
    try:
        base = build_base(**portfolio)
    except ValueError:
        return
    whatif = rank_with(base, normalise_weights({"impact": 2.0, "feasibility": 1.0,
                                                "readiness": 1.0}))
    everything = page_table(whatif, np.argsort(whatif.position)).rows
    start = data.draw(st.integers(0, len(everything)))
    stop = data.draw(st.integers(start, len(everything)))
    some = page_table(whatif, np.argsort(whatif.position)[start:stop]).rows
    assert comparable(some) == comparable(everything.iloc[start:stop])
