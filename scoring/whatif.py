"""What-if rankings: the portfolio re-ranked under moved dimension weights, from kept parts.

A slider move changes the dimension weights and nothing else. What those weights cannot move
(the criterion values, the dependency structure, the waits-on graph, the dimension scores,
RICE and WSJF) is kept in a `WhatIfBase`, built once per portfolio and profile; a move then
recomputes only the composite, the order and the unlock value (`rank_with`), and a page's rows
are assembled for its own projects (`page_table`). Every figure equals the one
`scoring.engine.rank_portfolio` gives with samples=0 under the moved weights (tests/scoring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from scoring import blas  # noqa: F401  (one BLAS thread for the process: see scoring.blas)
from scoring.composite import composite_scores
from scoring.criteria import DIMENSIONS, Criterion
from scoring.engine import Ranking, criterion_values, method_figures
from scoring.graph import unlock_values
from scoring.graph.arrays import csr, generations, out_edges
from scoring.ranking import OrderStructure, ordered_with_structure
from scoring.readiness import link_readiness
from scoring.weights import WeightProfile

# Per node, what no dimension weight moves (the columns `rank_portfolio` gives them).
STATIC_COLUMNS = ("status", "mandatory", "effective_mandatory", "view", *DIMENSIONS, "rice",
                  "wsjf", "bottleneck_dataset", "override")
# What robustness would add: absent from a what-if (no weight samples).
UNSAMPLED_COLUMNS = ("p_top_k", "rank_p05", "rank_p95", "fragile")


@dataclass(frozen=True)
class UnlockGraph:
    """The waits-on graph of `scoring.graph.unlock_values`, kept to pass other values along it."""

    size: int  # projects, then datasets
    levels: tuple[np.ndarray, ...]  # generations, waiters before what they wait on
    indptr: np.ndarray
    indices: np.ndarray


@dataclass(frozen=True)
class WhatIfBase:
    """What stays put when only the dimension weights move (one portfolio, one profile).

    Projects are numbered as in the `projects` table the base was built from; nodes (the
    projects in the order) as in `structure`.
    """

    values: pd.DataFrame  # normalised criterion values per project (NaN missing)
    criteria: tuple[Criterion, ...]
    profile: WeightProfile  # its criterion weights are kept, its dimension weights replaced
    override: np.ndarray  # per project, its priority override in points (NaN: none)
    active: np.ndarray  # per project: neither delivered nor rejected
    nodes: np.ndarray  # per node, its project's number
    structure: OrderStructure
    prerequisites: tuple[np.ndarray, np.ndarray]  # per node, its prerequisite nodes (CSR)
    dependants: tuple[np.ndarray, np.ndarray]  # per node, the nodes that depend on it (CSR)
    static: pd.DataFrame  # per node (indexed by slug), STATIC_COLUMNS
    unlock: UnlockGraph


@dataclass(frozen=True)
class WhatIf:
    """One what-if ranking: per node of its base, the figures the moved weights give."""

    base: WhatIfBase
    scores: pd.DataFrame  # per project: composite, dimension scores, coverage, score_status
    contributions: pd.DataFrame  # per project and criterion, in points
    priority: np.ndarray
    effective_priority: np.ndarray
    position: np.ndarray  # 1..n in the whole order
    view_position: np.ndarray  # 1..m in the node's view
    unlock_value: np.ndarray


def build_base(projects: pd.DataFrame, criteria: Sequence[Criterion], levels: pd.DataFrame,
               links: pd.DataFrame, dependencies: pd.DataFrame, datasets: pd.DataFrame,
               profile: WeightProfile) -> WhatIfBase:
    """Keep what a ranking of these tables under `profile` holds whatever its dimension weights.

    Takes `rank_portfolio`'s inputs; raises `DependencyCycleError` as it does.
    """
    values, readiness = criterion_values(projects, criteria, levels, links)
    scores = composite_scores(values, list(criteria), profile).scores
    slugs = pd.Index(projects["slug"])
    override = projects["priority_override"].to_numpy(dtype=float)
    table = projects.assign(value=scores["composite"].to_numpy())
    order, structure, _ = ordered_with_structure(
        table, dependencies, priority=pd.Series(override, index=slugs).where(
            ~np.isnan(override), scores["composite"]),
        mandatory=pd.Series(projects["mandatory"].to_numpy(), slugs))
    node_index = pd.Index(structure.slugs, name="slug")
    by_node = order.set_index("slug").reindex(node_index)
    n = len(node_index)
    prerequisite_lists = by_node["blocked_by"].tolist()
    counts = np.array([len(p) for p in prerequisite_lists], dtype=np.int64)
    src = np.repeat(np.arange(n, dtype=np.int64), counts)
    dst = node_index.get_indexer([s for p in prerequisite_lists for s in p]).astype(np.int64)
    static = by_node[["status", "mandatory", "effective_mandatory", "view"]].join(
        scores[list(DIMENSIONS)]).join(
            method_figures(projects, levels, scores, by_node["unblocks"]))
    static["bottleneck_dataset"] = readiness["bottleneck_dataset"].reindex(node_index)
    nodes = slugs.get_indexer(node_index)
    static["override"] = ~np.isnan(override[nodes])
    active = np.zeros(len(slugs), dtype=bool)
    active[nodes] = True
    return WhatIfBase(
        values=values, criteria=tuple(criteria), profile=profile, override=override,
        active=active, nodes=nodes,
        structure=structure, prerequisites=csr(src, dst, n), dependants=csr(dst, src, n),
        static=static[list(STATIC_COLUMNS)],
        unlock=_unlock_graph(table, dependencies, links, datasets),
    )


def _unlock_graph(table: pd.DataFrame, dependencies: pd.DataFrame, links: pd.DataFrame,
                  datasets: pd.DataFrame) -> UnlockGraph:
    """Return the waits-on graph `unlock_values` passes value along, as it builds it."""
    links_ready = links.assign(
        ready=(link_readiness(links["drl"], links["fit_for_task"], links["agreement"])
               .to_numpy() >= 1.0 - 1e-9) if len(links) else pd.Series(dtype=bool),
    )
    found = unlock_values(table, dependencies, links_ready, datasets)
    labels = pd.Index(found.unlock.index)
    # The edges in unlock_values' own order, so every sum below adds in the same order.
    src = labels.get_indexer(found.waits_on["waiter"]).astype(np.int64)
    dst = labels.get_indexer(found.waits_on["blocker"]).astype(np.int64)
    levels = generations(len(labels), src, dst)
    assert levels is not None  # unlock_values broke every cycle
    indptr, indices = csr(src, dst, len(labels))
    return UnlockGraph(size=len(labels), levels=tuple(levels), indptr=indptr, indices=indices)


def rank_with(base: WhatIfBase, dimension_weights: Mapping[str, float]) -> WhatIf:
    """Re-rank a base's portfolio under other dimension weights (DESIGN.md's rules, unchanged).

    composite = 100 * sum_d W_d' * sum_c w_c' * x_c (points, `composite_scores`); priority is
    the override or else the composite; the order and view ranks follow `ordered_with_structure`'s
    key; unlock value passes composites along the waits-on graph (`unlock_values`).
    """
    profile = replace(base.profile, dimension_weights=dict(dimension_weights))
    # On one BLAS thread (scoring.blas): OpenBLAS's own threads more than doubled a move's
    # time on a busy 2-core machine (62 ms against 143 ms).
    result = composite_scores(base.values, list(base.criteria), profile)
    composite = result.scores["composite"].to_numpy(dtype=np.float64)
    priority = np.where(np.isnan(base.override), composite, base.override)[base.nodes]
    effective, position, view_position = _order(base.structure, priority)
    unlock = _pass_unlock(base.unlock, np.where(base.active, np.nan_to_num(composite, nan=0.0),
                                                0.0))
    return WhatIf(base=base, scores=result.scores.rename(columns={"status": "score_status"}),
                  contributions=result.contributions, priority=priority,
                  effective_priority=effective, position=position, view_position=view_position,
                  unlock_value=unlock[base.nodes])


def _order(structure: OrderStructure,
           priority: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return effective priority, position and view position by `ordered_with_structure`'s key."""
    n = len(structure.slugs)
    eff = structure.effective_priority(priority[None, :])[0]
    unscored = np.isneginf(eff)
    effective = np.where(unscored, np.nan, eff)
    seq = np.lexsort((structure.tiebreak, np.where(unscored, 0.0, -effective), unscored,
                      ~structure.effective_mandatory))
    position = np.empty(n, dtype=np.int64)
    position[seq] = np.arange(1, n + 1)
    along = structure.committed[seq]
    view_position = np.empty(n, dtype=np.int64)
    view_position[seq] = np.where(along, np.cumsum(along), np.cumsum(~along))
    return effective, position, view_position


def _pass_unlock(graph: UnlockGraph, project_values: np.ndarray) -> np.ndarray:
    """Return unlock value per graph node: each waiter's value and unlock shared among blockers."""
    own = np.zeros(graph.size)
    own[: len(project_values)] = project_values
    unlock = np.zeros(graph.size)
    for level in graph.levels:
        counts, targets = out_edges(graph.indptr, graph.indices, level)
        if targets.size:
            share = (own[level] + unlock[level]) / np.maximum(counts, 1)
            np.add.at(unlock, targets, np.repeat(share, counts))
    return unlock


def _by_position(neighbours: tuple[np.ndarray, np.ndarray], node: int,
                 position: np.ndarray) -> np.ndarray:
    """Return a node's neighbours in order of their position."""
    indptr, indices = neighbours
    found = indices[indptr[node]: indptr[node + 1]]
    return found[np.argsort(position[found], kind="stable")]


def page_table(whatif: WhatIf, nodes: np.ndarray) -> Ranking:
    """Return these nodes' rows as `rank_portfolio` gives them (samples=0), in this order."""
    base = whatif.base
    slugs = base.structure.slugs
    projects = base.nodes[nodes]
    rows = base.static.iloc[nodes].reset_index()
    scores = whatif.scores.iloc[projects]
    for column in ("composite", "coverage", "score_status"):
        rows[column] = scores[column].to_numpy()
    committed = base.structure.committed
    blocked_by, unblocks, other_view = [], [], []
    for node in nodes.tolist():
        before = _by_position(base.prerequisites, node, whatif.position)
        blocked_by.append(slugs[before].tolist())
        unblocks.append(slugs[_by_position(base.dependants, node, whatif.position)].tolist())
        other_view.append(slugs[before[committed[before] != committed[node]]].tolist())
    rows = rows.assign(
        position=whatif.position[nodes], view_position=whatif.view_position[nodes],
        priority=whatif.priority[nodes], effective_priority=whatif.effective_priority[nodes],
        blocked_by=blocked_by, unblocks=unblocks, blocked_by_other_view=other_view,
        unlock_value=whatif.unlock_value[nodes],
        **{column: np.nan for column in UNSAMPLED_COLUMNS},
    )
    return Ranking(rows=rows, contributions=whatif.contributions.iloc[projects], samples=0)


__all__ = ["STATIC_COLUMNS", "UnlockGraph", "WhatIf", "WhatIfBase", "build_base", "page_table",
           "rank_with"]
