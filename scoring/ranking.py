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
    _csr,
    _cycle_in,
    _dependency_edges,
    _flag,
    _floats,
    _generations,
    _grouped,
    _isin,
    _out_edges,
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
    in_order = ~_isin(status_all, INACTIVE)
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

    # Generations along prerequisite -> dependant: every prerequisite in an earlier one.
    levels = _generations(n, dst, src)
    if levels is None:
        raise DependencyCycleError(_cycle_in(n, src, dst, slugs))
    prereq_ptr, prereq_idx = _csr(src, dst, n)
    dep_ptr, dep_idx = _csr(dst, src, n)

    # Max and "or" are idempotent, so one pass over the generations gives exact transitive
    # values: dependants first, each generation pushing its final values to its prerequisites.
    eff = np.where(np.isnan(prio), -np.inf, prio)
    eff_mand = mand.astype(np.int8)
    for level in reversed(levels):
        counts, targets = _out_edges(prereq_ptr, prereq_idx, level)
        if targets.size:
            np.maximum.at(eff, targets, np.repeat(eff[level], counts))
            np.maximum.at(eff_mand, targets, np.repeat(eff_mand[level], counts))
    flags = np.zeros(n, dtype=np.int8)
    flags[rej_src] = 1
    for level in levels:
        counts, targets = _out_edges(dep_ptr, dep_idx, level)
        if targets.size:
            np.maximum.at(flags, targets, np.repeat(flags[level], counts))

    unscored = np.isneginf(eff)
    eff_arr = np.where(unscored, np.nan, eff)
    eff_mand_arr = eff_mand.astype(bool)
    # One global rank per project, so the heap holds plain integers.
    by_key = np.lexsort(
        (slugs.astype(str), np.where(unscored, 0.0, -eff_arr), unscored, ~eff_mand_arr)
    )
    rank = np.empty(n, dtype=np.int64)
    rank[by_key] = np.arange(n)
    rank_list = rank.tolist()
    node_of = by_key.tolist()
    ptr, idx = dep_ptr.tolist(), dep_idx.tolist()

    waiting = np.bincount(src, minlength=n)
    indegree = waiting.tolist()
    heap = rank[waiting == 0].tolist()
    heapq.heapify(heap)
    sequence: list[int] = []
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        u = node_of[pop(heap)]
        sequence.append(u)
        for k in range(ptr[u], ptr[u + 1]):
            d = idx[k]
            indegree[d] -= 1
            if indegree[d] == 0:
                push(heap, rank_list[d])

    seq = np.asarray(sequence, dtype=np.int64)
    position = np.empty(n, dtype=np.int64)
    position[seq] = np.arange(1, n + 1)

    rejected_named = _grouped(
        rej_src, slugs_all.to_numpy(dtype=object)[rej_dst].astype(str).astype(object), n
    )

    frame = pd.DataFrame(
        {
            "slug": slugs,
            "position": position,
            "status": status,
            "priority": prio,
            "effective_priority": eff_arr,
            "mandatory": mand,
            "effective_mandatory": eff_mand_arr,
            "blocked_by": _grouped(src, slugs[dst], n, key=position[dst]),
            "unblocks": _grouped(dst, slugs[src], n, key=position[src]),
            "rejected_prerequisites": rejected_named,
            "blocked_by_rejected": flags.astype(bool),
        }
    )
    return frame.iloc[seq].reset_index(drop=True)


__all__ = ["ORDER_COLUMNS", "dependency_aware_order"]
