"""Dependency-aware ranking: a topological order that takes the highest effective priority first.

Rules (DESIGN.md, "Graph rules"):
- delivered and rejected projects leave the order; a delivered prerequisite is satisfied;
- a project that depends, directly or through prerequisites in the order, on a rejected project
  stays in the order and is flagged ``blocked_by_rejected``;
- ``effective_priority(p) = max(priority(p), effective_priority(d) for every d depending on p)``
  (so transitively the highest priority it blocks), in the priority's own units; NaN (unscored)
  counts as lower than any score and stays NaN only when nothing scored waits on p;
- ``effective_mandatory(p)``: p is mandatory or blocks, transitively, a mandatory project;
- the order is Kahn's algorithm over the dependencies among projects in the order, always taking
  the available project with the smallest key ``(not effective_mandatory, unscored,
  -effective_priority, slug)``; every blocker precedes what it blocks, and with no dependencies
  this is plain sorting by that key (mandatory first, priority descending, slug).
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

from scoring.graph import (
    INACTIVE,
    REJECTED,
    DependencyCycleError,
    _adjacency_lists,
    _cycle_in,
    _dependency_edges,
    _flag,
    _floats,
    _topological_order,
)

ORDER_COLUMNS: tuple[str, ...] = (
    "slug",
    "position",
    "status",
    "priority",
    "effective_priority",
    "mandatory",
    "effective_mandatory",
    "blocked_by",
    "unblocks",
    "rejected_prerequisites",
    "blocked_by_rejected",
)


def _aligned(values: pd.Series | None, slugs: pd.Index, fallback: np.ndarray) -> np.ndarray:
    if values is None:
        return fallback
    values = pd.Series(values)
    values.index = values.index.astype(str)
    return values.reindex(slugs).to_numpy()


def dependency_aware_order(
    projects: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    priority: pd.Series | None = None,
    mandatory: pd.Series | None = None,
) -> pd.DataFrame:
    """Order active projects so blockers come first and higher effective priority comes earlier.

    `priority` (indexed by slug; default the ``value`` column) is the input priority, e.g. the
    composite 0-100 or a manual override; `mandatory` (indexed by slug; default the
    ``mandatory`` column). Returns one row per project in the order with columns
    ``ORDER_COLUMNS``: position 1..n, blocked_by (prerequisites in the order, by position),
    unblocks (projects in the order that depend on it directly, by position). Raises
    `DependencyCycleError` when the dependencies among projects in the order are cyclic.
    """
    slugs_all = pd.Index(projects["slug"].astype(str))
    status_all = projects["status"].astype(str).to_numpy(dtype=object)
    in_order = ~np.isin(status_all, list(INACTIVE))
    default_priority = (
        _floats(projects["value"])
        if "value" in projects.columns
        else np.full(len(projects), np.nan)
    )
    prio_all = _aligned(priority, slugs_all, default_priority)
    prio_all = pd.to_numeric(pd.Series(prio_all), errors="coerce").to_numpy(dtype=np.float64)
    mand_all = _aligned(mandatory, slugs_all, _flag(projects, "mandatory"))
    mand_all = pd.Series(mand_all).eq(True).to_numpy(dtype=bool, na_value=False)

    src_all, dst_all = _dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        slugs_all,
    )
    # Dependencies of projects that left the order no longer constrain anything.
    src_all, dst_all = src_all[in_order[src_all]], dst_all[in_order[src_all]]
    # A delivered prerequisite is satisfied: it simply drops out with the inactive projects.
    on_rejected = status_all[dst_all] == REJECTED

    keep = np.flatnonzero(in_order)
    n = len(keep)
    position_of = np.full(len(projects), -1, dtype=np.int64)
    position_of[keep] = np.arange(n)
    slugs = slugs_all[keep].to_numpy(dtype=object)
    status = status_all[keep]
    prio = prio_all[keep]
    mand = mand_all[keep]

    inner = in_order[dst_all]
    src, dst = position_of[src_all[inner]], position_of[dst_all[inner]]
    rej_src = position_of[src_all[on_rejected]]
    rej_dst = dst_all[on_rejected]

    # Edges prerequisite -> dependant: a topological order lists prerequisites first.
    order = _topological_order(n, dst, src)
    if order is None:
        raise DependencyCycleError(_cycle_in(n, src, dst, slugs))
    prerequisites = _adjacency_lists(src, dst, n)
    dependants = _adjacency_lists(dst, src, n)

    # Max and "or" are idempotent, so one reverse pass gives the exact transitive values.
    eff = np.where(np.isnan(prio), -np.inf, prio).tolist()
    eff_mand = mand.tolist()
    for u in reversed(order):
        best, must = eff[u], eff_mand[u]
        for d in dependants[u]:
            if eff[d] > best:
                best = eff[d]
            must = must or eff_mand[d]
        eff[u], eff_mand[u] = best, must

    blocked_rej = np.zeros(n, dtype=bool)
    blocked_rej[rej_src] = True
    flags = blocked_rej.tolist()
    for u in order:
        if not flags[u]:
            flags[u] = any(flags[q] for q in prerequisites[u])

    eff_arr = np.asarray(eff, dtype=np.float64)
    unscored = np.isneginf(eff_arr)
    eff_arr[unscored] = np.nan
    eff_mand_arr = np.asarray(eff_mand, dtype=bool)
    # One global rank per project, so the heap holds plain integers.
    by_key = np.lexsort(
        (slugs.astype(str), np.where(unscored, 0.0, -eff_arr), unscored, ~eff_mand_arr)
    )
    rank = np.empty(n, dtype=np.int64)
    rank[by_key] = np.arange(n)
    rank_list = rank.tolist()
    node_of = by_key.tolist()

    indegree = np.bincount(src, minlength=n).tolist()
    heap = [rank_list[i] for i in range(n) if indegree[i] == 0]
    heapq.heapify(heap)
    sequence: list[int] = []
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        u = node_of[pop(heap)]
        sequence.append(u)
        for d in dependants[u]:
            indegree[d] -= 1
            if indegree[d] == 0:
                push(heap, rank_list[d])

    seq = np.asarray(sequence, dtype=np.int64)
    position = np.empty(n, dtype=np.int64)
    position[seq] = np.arange(1, n + 1)
    pos_list = position.tolist()
    slug_list = slugs.tolist()

    def named(lists: list[list[int]]) -> list[list[str]]:
        return [[slug_list[v] for v in sorted(vs, key=pos_list.__getitem__)] for vs in lists]

    rejected_named: list[list[str]] = [[] for _ in range(n)]
    all_slugs = slugs_all.to_numpy(dtype=object)
    for s, r in sorted(zip(rej_src.tolist(), rej_dst.tolist(), strict=True)):
        rejected_named[s].append(str(all_slugs[r]))

    frame = pd.DataFrame(
        {
            "slug": slug_list,
            "position": position,
            "status": status,
            "priority": prio,
            "effective_priority": eff_arr,
            "mandatory": mand,
            "effective_mandatory": eff_mand_arr,
            "blocked_by": named(prerequisites),
            "unblocks": named(dependants),
            "rejected_prerequisites": rejected_named,
            "blocked_by_rejected": np.asarray(flags, dtype=bool),
        }
    )
    return frame.iloc[seq].reset_index(drop=True)


__all__ = ["ORDER_COLUMNS", "dependency_aware_order"]
