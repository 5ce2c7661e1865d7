"""Tests for scoring.plumbing: fix-the-plumbing recommendations."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import readiness_weight
from scoring.plumbing import COLUMNS, DRL_LADDER, plumbing_recommendations
from scoring.readiness import AGREEMENT_SCORES, DRL_SCORES, FIT_SCORES, project_readiness
from scoring.weights import WeightProfile


def links_table(rows: list[tuple]) -> pd.DataFrame:
    """Build links from (project, dataset, drl, fit_for_task, agreement, required) rows."""
    return pd.DataFrame(
        rows, columns=["project", "dataset", "drl", "fit_for_task", "agreement", "required"]
    )


LINKS = links_table(
    [
        ("a", "x", "C2", "fit", "signed", True),
        ("a", "y", "B1", "partial", "signed", True),
        ("b", "x", "C2", "fit", "drafting", True),
        ("c", "x", "C2", "fit", "signed", True),
        ("c", "z", "C1", "fit", "not_needed", False),
        ("d", "w", "B2", "fit", "signed", True),
    ]
)
WEIGHTS = pd.Series({"a": 20.0, "b": 10.0, "c": 30.0, "d": 5.0})


def test_dataset_level_gain_is_hand_computed() -> None:
    out = plumbing_recommendations(LINKS, WEIGHTS).set_index("target", drop=False)
    x = out.loc["x"]
    # a: 0.4 -> min(0.6, 0.7) = 0.6; b: 0.4 -> min(0.6, 0.5) = 0.5; c: 0.4 -> 0.6.
    assert x["gain"] == pytest.approx(20 * 0.2 + 10 * 0.1 + 30 * 0.2)
    assert x["description"] == "Raise x from C2 to C1"
    assert x["projects_improved"] == ["a", "b", "c"]
    assert x["projects_unblocked"] == []
    w = out.loc["w"]
    assert w["gain"] == pytest.approx(5 * 0.2)
    assert w["projects_unblocked"] == ["d"]
    assert list(out.columns) == list(COLUMNS)


def test_agreement_and_fitness_gains_count_only_when_they_bind() -> None:
    links = links_table(
        [
            ("p", "x", "B1", "fit", "none", True),
            ("q", "y", "B1", "partial", "signed", True),
            ("q", "z", "C2", "fit", "drafting", True),
        ]
    )
    out = plumbing_recommendations(links, pd.Series({"p": 10.0, "q": 10.0}), include_zero_gain=True)
    rows = out.set_index(["kind", "target"])
    sign = rows.loc[("agreement", "p/x")]
    assert sign["gain"] == pytest.approx(8.0)
    assert sign["projects_unblocked"] == ["p"]
    assert sign["description"] == "Sign the data-sharing agreement for p to use x (now none)"
    # q is bound by z's C2 (0.4): making y fit or signing z's agreement changes nothing.
    assert rows.loc[("fitness", "q/y")]["gain"] == 0.0
    assert rows.loc[("agreement", "q/z")]["gain"] == 0.0
    assert rows.loc[("dataset_level", "z")]["gain"] == pytest.approx(10 * (0.5 - 0.4))
    assert out["gain"].is_monotonic_decreasing
    without_zero = plumbing_recommendations(links, pd.Series({"p": 10.0, "q": 10.0}))
    assert (without_zero["gain"] > 0).all()


def test_inactive_projects_and_optional_links_are_ignored() -> None:
    projects = pd.DataFrame(
        {"slug": ["a", "b", "c", "d"], "status": ["delivered", "idea", "rejected", "idea"]}
    )
    out = plumbing_recommendations(LINKS, WEIGHTS, projects)
    x = out.set_index("target").loc["x"]
    assert x["projects_improved"] == ["b"]
    assert "z" not in set(out["dataset"])


def test_ladder_runs_from_hearsay_to_validated() -> None:
    assert DRL_LADDER == ("C4", "C3", "C2", "C1", "B2", "B1")


def test_empty_input_gives_empty_frame() -> None:
    out = plumbing_recommendations(LINKS.iloc[:0], WEIGHTS)
    assert out.empty and list(out.columns) == list(COLUMNS)


def readiness_of(links: pd.DataFrame) -> pd.Series:
    """Return project readiness computed by scoring.readiness."""
    return project_readiness(links)["readiness"]


@st.composite
def link_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series]:
    """Draw links over a few projects and datasets, with a DRL per dataset."""
    projects = [f"p{i}" for i in range(draw(st.integers(1, 5)))]
    datasets = [f"d{i}" for i in range(draw(st.integers(1, 4)))]
    drl = {d: draw(st.sampled_from(list(DRL_SCORES))) for d in datasets}
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(projects), st.sampled_from(datasets)),
            min_size=1,
            max_size=10,
            unique=True,
        )
    )
    rows = [
        (
            p,
            d,
            drl[d],
            draw(st.sampled_from(list(FIT_SCORES))),
            draw(st.sampled_from(list(AGREEMENT_SCORES))),
            draw(st.booleans()),
        )
        for p, d in pairs
    ]
    weights = pd.Series({p: draw(st.floats(0, 40)) for p in projects})
    return links_table(rows), weights


@settings(max_examples=60, deadline=None)
@given(link_tables())
def test_gains_match_recomputing_readiness_after_the_change(case: tuple) -> None:
    links, weights = case
    before = readiness_of(links)
    out = plumbing_recommendations(links, weights, include_zero_gain=True)
    for row in out.itertuples():
        changed = links.copy()
        if row.kind == "dataset_level":
            changed.loc[changed["dataset"] == row.dataset, "drl"] = row.proposed
        else:
            mask = (changed["project"] == row.project) & (changed["dataset"] == row.dataset)
            column = "agreement" if row.kind == "agreement" else "fit_for_task"
            changed.loc[mask, column] = row.proposed
        after = readiness_of(changed)
        delta = (after - before.reindex(after.index)).fillna(0.0)
        expected = (delta * weights.reindex(delta.index).fillna(0.0)).sum()
        assert row.gain == pytest.approx(expected, abs=1e-9)
        assert sorted(row.projects_improved) == sorted(delta.index[delta > 1e-9])
        unblocked = after.index[(after >= 1 - 1e-9) & (before.reindex(after.index) < 1 - 1e-9)]
        assert sorted(row.projects_unblocked) == sorted(unblocked)


def test_one_agreement_record_unblocks_every_link_resting_on_it() -> None:
    links = links_table([
        ("p", "x", "B1", "fit", "drafting", True),
        ("p", "y", "B1", "fit", "drafting", True),
        ("q", "x", "B1", "fit", "expired", True),
        ("q", "v", "C2", "fit", "not_needed", True),
        ("r", "u", "B1", "fit", "none", True),
    ]).assign(agreement_code=["dsa", "dsa", "old", None, None])
    out = plumbing_recommendations(links, pd.Series({"p": 10.0, "q": 20.0, "r": 1.0}),
                                   agreement_titles={"dsa": "Housing DSA"})
    rows = out.set_index("target")
    # p: both its links rest on dsa, so signing it lifts p from 0.5 to 1.0 (one link alone
    # would lift nothing); q's expired record lifts it from 0.1 to its C2 bound, 0.4.
    assert rows.loc["dsa", "gain"] == pytest.approx(10 * 0.5)
    assert rows.loc["dsa", "projects_unblocked"] == ["p"]
    assert rows.loc["dsa", "description"].startswith("Sign the data-sharing agreement Housing DSA")
    assert rows.loc["old", "gain"] == pytest.approx(20 * 0.3)
    assert rows.loc["old", "description"].startswith("Renew")
    # No per-link agreement row for links that rest on a record; r's link keeps its own.
    assert "p/x" not in rows.index and "q/x" not in rows.index
    assert rows.loc["r/u", "gain"] == pytest.approx(1 * 0.8)


def test_an_agreement_recommendation_counts_its_projects_in_words() -> None:
    # Walkthrough: `portfolio plumbing` said "(now expired; 1 project rest on it)".
    links = links_table([
        ("p", "x", "B1", "fit", "expired", True),
        ("q", "y", "B1", "fit", "drafting", True),
        ("r", "y", "B1", "fit", "drafting", True),
    ]).assign(agreement_code=["old", "dsa", "dsa"])
    out = plumbing_recommendations(links, pd.Series({"p": 10.0, "q": 20.0, "r": 5.0}),
                                   agreement_titles={"dsa": "Housing DSA"})
    rows = out.set_index("target")
    assert rows.loc["old", "description"] == (
        "Renew the data-sharing agreement old (now expired; 1 project rests on it)")
    assert rows.loc["dsa", "description"] == (
        "Sign the data-sharing agreement Housing DSA (now drafting; 2 projects rest on it)")


def test_a_project_without_a_composite_releases_no_points() -> None:
    # An unscored project (no impact value) has no composite, so readiness it gains releases
    # nothing (DESIGN "Fix the plumbing"): its weight is 0, not its present dimensions' share.
    nan = float("nan")
    scores = pd.DataFrame({"composite": [nan, 61.0], "impact": [nan, 50.0],
                           "feasibility": [70.0, 70.0], "readiness": [40.0, 40.0]},
                          index=["unscored", "scored"])
    profile = WeightProfile("p", {"impact": 0.5, "feasibility": 0.3, "readiness": 0.2})
    weight = readiness_weight(scores, profile)
    assert weight["unscored"] == 0.0
    assert weight["scored"] == pytest.approx(100 * 0.2 / 1.0)
    links = links_table([("unscored", "x", "C2", "fit", "signed", True)])
    assert plumbing_recommendations(links, weight).empty  # no gain, so nothing recommended
