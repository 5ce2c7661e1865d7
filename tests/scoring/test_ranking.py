"""Tests for scoring.ranking: dependency-aware order."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.graph import DependencyCycleError
from scoring.ranking import ORDER_COLUMNS, dependency_aware_order
from tests.scoring.test_graph import deps_frame, portfolios, projects_frame

INACTIVE = ("delivered", "rejected")


def with_mandatory(projects: pd.DataFrame, flags: list[bool]) -> pd.DataFrame:
    """Return projects with a mandatory column cycled from `flags`."""
    n = len(projects)
    column = [flags[i % len(flags)] for i in range(n)] if flags else [False] * n
    return projects.assign(mandatory=column)


def key(mandatory: bool, priority: float, slug: str, generation: int = 0) -> tuple:
    """Sort key of the order: mandatory first, scored first, priority desc, generation, slug."""
    return (not mandatory, math.isnan(priority), 0.0 if math.isnan(priority) else -priority,
            generation, slug)


def reference_order(projects: pd.DataFrame, deps: pd.DataFrame) -> list[str]:
    """Rebuild the order by repeated scans, straight from the rules."""
    status = dict(zip(projects["slug"], projects["status"], strict=True))
    live = [s for s in projects["slug"] if status[s] not in INACTIVE]
    g = nx.DiGraph()
    g.add_nodes_from(live)
    g.add_edges_from(
        (q, p) for p, q in deps.itertuples(index=False, name=None) if p in g and q in g
    )
    prio = dict(zip(projects["slug"], projects["value"], strict=True))
    mand = dict(zip(projects["slug"], projects["mandatory"], strict=True))
    eff, emand = {}, {}
    for s in live:
        scores = [prio[d] for d in [s, *nx.descendants(g, s)] if not math.isnan(prio[d])]
        eff[s] = max(scores) if scores else math.nan
        emand[s] = any(mand[d] for d in [s, *nx.descendants(g, s)])
    generation: dict[str, int] = {}
    for s in nx.topological_sort(g):
        generation[s] = max((generation[q] + 1 for q in g.predecessors(s)), default=0)
    order: list[str] = []
    remaining = set(live)
    while remaining:  # Kahn's algorithm, taking the smallest key among the available
        ready = [s for s in remaining if all(q not in remaining for q in g.predecessors(s))]
        best = min(ready, key=lambda s: key(emand[s], eff[s], s, generation[s]))
        order.append(best)
        remaining.remove(best)
    return order


@settings(max_examples=100, deadline=None)
@given(portfolios(max_projects=15, max_datasets=0), st.lists(st.booleans(), max_size=4))
def test_order_is_topological_and_takes_highest_effective_priority(
    portfolio: tuple, flags: list[bool]
) -> None:
    projects, deps, _, _ = portfolio
    projects = with_mandatory(projects, flags)
    out = dependency_aware_order(projects, deps)
    assert list(out.columns) == list(ORDER_COLUMNS)
    live = projects.loc[~projects["status"].isin(INACTIVE), "slug"]
    assert sorted(out["slug"]) == sorted(live)
    assert out["position"].tolist() == list(range(1, len(out) + 1))
    position = dict(zip(out["slug"], out["position"], strict=True))
    for p, q in deps.itertuples(index=False, name=None):
        if p in position and q in position:
            assert position[q] < position[p]  # every blocker precedes what it blocks
    assert out["slug"].tolist() == reference_order(projects, deps)
    for row in out.itertuples():
        for q in row.blocked_by:
            assert position[q] < row.position
        if not math.isnan(row.priority):
            assert row.effective_priority >= row.priority


@settings(max_examples=60, deadline=None)
@given(portfolios(max_projects=15, max_datasets=0), st.lists(st.booleans(), max_size=4))
def test_without_dependencies_order_is_plain_priority_order(
    portfolio: tuple, flags: list[bool]
) -> None:
    projects, _, _, _ = portfolio
    projects = with_mandatory(projects, flags)
    out = dependency_aware_order(projects, None)
    live = projects[~projects["status"].isin(INACTIVE)]
    expected = sorted(
        zip(live["mandatory"], live["value"], live["slug"], strict=True), key=lambda t: key(*t)
    )
    assert out["slug"].tolist() == [s for _, _, s in expected]
    same = out["effective_priority"].fillna(-1) == out["priority"].fillna(-1)
    assert same.all()


def test_blocker_inherits_priority_and_mandatory_of_what_it_blocks() -> None:
    projects = projects_frame(
        [
            ("base", "idea", 5.0),
            ("top", "idea", 90.0),
            ("mid", "idea", 50.0),
            ("law", "proposed", 1.0),
            ("prep", "idea", math.nan),
        ],
        mandatory=[False, False, False, True, False],
    )
    deps = deps_frame([("top", "base"), ("law", "prep")])
    out = dependency_aware_order(projects, deps).set_index("slug")
    assert out.index.tolist() == ["prep", "law", "base", "top", "mid"]
    assert out.loc["base", "effective_priority"] == 90.0
    assert out.loc["prep", "effective_priority"] == 1.0
    assert bool(out.loc["prep", "effective_mandatory"])
    assert not bool(out.loc["prep", "mandatory"])
    assert out.loc["base", "unblocks"] == ["top"]
    assert out.loc["top", "blocked_by"] == ["base"]


def test_unscored_projects_rank_after_scored_ones() -> None:
    projects = projects_frame([("a", "idea", math.nan), ("b", "idea", 0.0), ("c", "idea", 3.0)])
    out = dependency_aware_order(projects, None)
    assert out["slug"].tolist() == ["c", "b", "a"]
    assert math.isnan(out["effective_priority"].iloc[-1])


def test_delivered_prerequisites_are_satisfied_and_rejected_ones_flagged() -> None:
    projects = projects_frame(
        [
            ("done", "delivered", 99.0),
            ("dead", "rejected", 99.0),
            ("a", "idea", 10.0),
            ("b", "idea", 20.0),
            ("c", "idea", 5.0),
        ]
    )
    deps = deps_frame([("a", "done"), ("b", "dead"), ("c", "b")])
    out = dependency_aware_order(projects, deps).set_index("slug")
    assert sorted(out.index) == ["a", "b", "c"]
    assert out.loc["a", "blocked_by"] == [] and not bool(out.loc["a", "blocked_by_rejected"])
    assert out.loc["b", "rejected_prerequisites"] == ["dead"]
    assert bool(out.loc["b", "blocked_by_rejected"])
    assert bool(out.loc["c", "blocked_by_rejected"])  # through b
    assert out.loc["c", "rejected_prerequisites"] == []


def test_priority_override_series_replaces_value() -> None:
    projects = projects_frame([("a", "idea", 10.0), ("b", "idea", 20.0)])
    out = dependency_aware_order(projects, None, priority=pd.Series({"a": 30.0, "b": 20.0}))
    assert out["slug"].tolist() == ["a", "b"]
    out = dependency_aware_order(projects, None, mandatory=pd.Series({"a": True}))
    assert out["slug"].tolist() == ["a", "b"]


def test_cycle_among_active_projects_raises() -> None:
    projects = projects_frame([("a", "idea", 1.0), ("b", "idea", 2.0)])
    with pytest.raises(DependencyCycleError, match="->"):
        dependency_aware_order(projects, deps_frame([("a", "b"), ("b", "a")]))


def test_ranks_a_large_portfolio() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    projects = projects_frame(
        [(f"p{i}", "idea", float(v)) for i, v in enumerate(rng.uniform(0, 100, n))]
    )
    src = rng.integers(1, n, 3 * n)
    dst = (rng.random(3 * n) * src).astype(int)
    deps = deps_frame([(f"p{a}", f"p{b}") for a, b in zip(src, dst, strict=True)])
    out = dependency_aware_order(projects, deps)
    position = pd.Series(out["position"].to_numpy(), index=out["slug"])
    assert (position[deps["depends_on"]].to_numpy() < position[deps["project"]].to_numpy()).all()
