"""Dependency-aware ranking: a topological order that takes the highest effective priority first.

Rules (DESIGN.md, "Dependency-aware order"):
- delivered and rejected projects leave the order; a delivered prerequisite is satisfied;
- a project that depends, directly or through prerequisites in the order, on a rejected project
  stays in the order and is flagged ``blocked_by_rejected``;
- ``effective_priority(p) = max(priority(p), effective_priority(d) for every d depending on p)``
  (so transitively the highest priority it blocks), in the priority's own units; NaN (unscored)
  counts as lower than any score and stays NaN only when nothing scored waits on p;
- ``effective_mandatory(p)``: p is mandatory or blocks, transitively, a mandatory project;
- ``generation(p)``: 0 for a project with no prerequisite in the order, else one more than the
  largest generation of its prerequisites (the longest chain of prerequisites below it);
- the order sorts by the key ``(not effective_mandatory, unscored, -effective_priority,
  generation, slug)``. A prerequisite's key is always smaller than its dependant's (its
  effective values are at least as high and its generation is lower), so this sort is the
  topological order that Kahn's algorithm gives when it always takes the available project
  with the smallest key: every blocker precedes what it blocks, and with no dependencies this
  is plain sorting by priority (mandatory first, slug last);
- views: ``candidates`` (idea, proposed, approved: what the CDO decides on) and ``committed``
  (in progress, paused). ``view_position`` is the place among the projects of the same view
  in the order, 1..m; it is the rank the backlog shows.

Because the key needs no search, the same rule re-orders under many weight samples at once
(`OrderStructure`, used by `scoring.robustness.order_robustness`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scoring.graph import INACTIVE, REJECTED, DependencyCycleError
from scoring.graph.arrays import (
    csr,
    cycle_in,
    dependency_edges,
    flag,
    floats,
    generations,
    grouped,
    isin,
    out_edges,
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
    "view",
    "view_position",
    "blocked_by_other_view",
)
CANDIDATES = "candidates"
COMMITTED = "committed"
VIEWS: tuple[str, ...] = (CANDIDATES, COMMITTED)
VIEW_OF_STATUS: dict[str, str] = {
    "idea": CANDIDATES, "proposed": CANDIDATES, "approved": CANDIDATES,
    "in_progress": COMMITTED, "paused": COMMITTED,
}


@dataclass(frozen=True)
class OrderStructure:
    """What the order takes from the graph and the flags: the same under any weights.

    Nodes are the projects in the order, numbered as in `slugs`. `pushes` holds, from the last
    generation to the first, the edges along which dependants pass their effective priority to
    their prerequisites: (dependants, prerequisites receiving, where each one's run starts).
    """

    slugs: np.ndarray
    effective_mandatory: np.ndarray
    tiebreak: np.ndarray  # place of each node in (generation, slug) order, 0..n-1
    committed: np.ndarray  # True for the committed view, False for candidates
    pushes: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]

    def effective_priority(self, priority: np.ndarray) -> np.ndarray:
        """Return max(own, dependants') priority per node of (samples, n) priorities.

        NaN (unscored) counts as -inf and stays -inf when nothing scored waits on the node.
        """
        eff = np.where(np.isnan(priority), -np.inf, priority).astype(priority.dtype, copy=False)
        for sources, receivers, starts in self.pushes:
            best = np.maximum.reduceat(eff[:, sources], starts, axis=1)
            eff[:, receivers] = np.maximum(eff[:, receivers], best)
        return eff


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
    unblocks (projects in the order that depend on it directly, by position), view and
    view_position (module docstring), blocked_by_other_view (the blockers in the other view).
    Raises `DependencyCycleError` when the dependencies among projects in the order are cyclic.
    """
    return ordered_with_structure(projects, dependencies, priority, mandatory)[0]


def ordered_with_structure(
    projects: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    priority: pd.Series | None = None,
    mandatory: pd.Series | None = None,
) -> tuple[pd.DataFrame, OrderStructure, np.ndarray]:
    """Return the order (as `dependency_aware_order`), its structure and each node's priority.

    The structure's nodes and the priorities are in the order of the active rows of `projects`.
    """
    slugs_all = pd.Index(projects["slug"].astype(str))
    status_all = projects["status"].astype(str).to_numpy(dtype=object)
    in_order = ~isin(status_all, INACTIVE)
    default_priority = (
        floats(projects["value"])
        if "value" in projects.columns
        else np.full(len(projects), np.nan)
    )
    prio_all = _aligned(priority, slugs_all, default_priority)
    prio_all = pd.to_numeric(pd.Series(prio_all), errors="coerce").to_numpy(dtype=np.float64)
    mand_all = _aligned(mandatory, slugs_all, flag(projects, "mandatory"))
    mand_all = pd.Series(mand_all).eq(True).to_numpy(dtype=bool, na_value=False)

    src_all, dst_all = dependency_edges(
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
    levels = generations(n, dst, src)
    if levels is None:
        raise DependencyCycleError(cycle_in(n, src, dst, slugs))
    structure = _structure(n, levels, src, dst, slugs, mand, status)
    dep_ptr, dep_idx = csr(dst, src, n)

    flags = np.zeros(n, dtype=np.int8)
    flags[rej_src] = 1
    for level in levels:
        counts, targets = out_edges(dep_ptr, dep_idx, level)
        if targets.size:
            np.maximum.at(flags, targets, np.repeat(flags[level], counts))

    eff = structure.effective_priority(prio[None, :])[0]
    unscored = np.isneginf(eff)
    eff_arr = np.where(unscored, np.nan, eff)
    eff_mand_arr = structure.effective_mandatory
    seq = np.lexsort((structure.tiebreak, np.where(unscored, 0.0, -eff_arr), unscored,
                      ~eff_mand_arr))
    position = np.empty(n, dtype=np.int64)
    position[seq] = np.arange(1, n + 1)
    committed = structure.committed
    in_view = np.empty(n, dtype=np.int64)
    along = committed[seq]
    in_view[seq] = np.where(along, np.cumsum(along), np.cumsum(~along))
    other = committed[src] != committed[dst]

    rejected_named = grouped(
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
            "blocked_by": grouped(src, slugs[dst], n, key=position[dst]),
            "unblocks": grouped(dst, slugs[src], n, key=position[src]),
            "rejected_prerequisites": rejected_named,
            "blocked_by_rejected": flags.astype(bool),
            "view": np.where(committed, COMMITTED, CANDIDATES).astype(object),
            "view_position": in_view,
            "blocked_by_other_view": grouped(src[other], slugs[dst[other]], n,
                                              key=position[dst[other]]),
        }
    )
    return frame.iloc[seq].reset_index(drop=True), structure, prio


def _structure(n: int, levels: list[np.ndarray], src: np.ndarray, dst: np.ndarray,
               slugs: np.ndarray, mand: np.ndarray, status: np.ndarray) -> OrderStructure:
    """Return what the order needs from the graph (edges src depends on dst)."""
    prereq_ptr, prereq_idx = csr(src, dst, n)
    generation = np.zeros(n, dtype=np.int64)
    pushes = []
    # Max and "or" are idempotent, so one pass over the generations gives exact transitive
    # values: dependants first, each generation pushing its final values to its prerequisites.
    eff_mand = mand.astype(np.int8)
    for g, level in enumerate(levels):
        generation[level] = g
    for level in reversed(levels):
        counts, targets = out_edges(prereq_ptr, prereq_idx, level)
        if not targets.size:
            continue
        sources = np.repeat(level, counts)
        np.maximum.at(eff_mand, targets, eff_mand[sources])
        by_target = np.argsort(targets, kind="stable")
        targets, sources = targets[by_target], sources[by_target]
        receivers, starts = np.unique(targets, return_index=True)
        pushes.append((sources, receivers, starts))
    tiebreak = np.empty(n, dtype=np.int64)
    tiebreak[np.lexsort((slugs.astype(str), generation))] = np.arange(n)
    committed = isin(status, frozenset(s for s, v in VIEW_OF_STATUS.items() if v == COMMITTED))
    return OrderStructure(slugs=slugs, effective_mandatory=eff_mand.astype(bool),
                          tiebreak=tiebreak, committed=committed, pushes=tuple(pushes))


__all__ = [
    "CANDIDATES", "COMMITTED", "ORDER_COLUMNS", "VIEWS", "VIEW_OF_STATUS", "OrderStructure",
    "dependency_aware_order", "ordered_with_structure",
]
