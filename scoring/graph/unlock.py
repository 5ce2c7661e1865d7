"""Unlock value: the portfolio value waiting on a project or a dataset, in composite points.

- An *active* project is one that is neither delivered nor rejected. Only active projects wait.
- An active project q *waits on* its blockers: each prerequisite project that is not delivered
  (a rejected prerequisite counts: q waits on it for ever, and it passes nothing on), and each
  dataset q uses through a ``required`` link that is not ``ready``.
- A dataset that is not ready (its DRL is not ``B1``, or unknown) and that some project waits on
  waits in turn on the active projects that produce it, if any.
- Every waiting node shares its own value plus the value already waiting on it equally among
  its blockers: ``unlock(b) = sum over q waiting on b of (value(q) + unlock(q)) / n_blockers(q)``.
  ``value(q)`` is q's composite for an active project (NaN counts as 0) and 0 for datasets and
  for delivered or rejected projects. Delivered projects are never blockers, so their unlock is 0.
- Shares split equally, so value is conserved: every active project's value ends, exactly once,
  on the nodes that wait on nothing (ready-to-start projects, rejected prerequisites, datasets
  nobody active produces). Diamonds never count a value twice.
- The waits-on graph is acyclic when ``depends_on`` is, except through ``produces`` edges (a
  producer that, directly or through other projects and datasets, waits on its own dataset).
  Such cycles are broken by dropping every dataset -> producer edge that lies on a cycle (its
  two ends share a strongly connected component), and only those: the rule does not depend on
  any ordering of names, and value never circulates (dropped edges are in ``broken_edges``).
- All nodes are computed in one pass over the waits-on DAG in topological order (waiters before
  what they wait on), so the cost is linear in nodes plus edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from scoring.graph.arrays import (
    csr,
    cycle_in,
    dependency_edges,
    floats,
    generations,
    grouped,
    isin,
    out_edges,
    topological_order,
)
from scoring.graph.checks import blocking_links
from scoring.graph.nodes import (
    DATASET,
    DELIVERED,
    INACTIVE,
    PROJECT,
    READY_DRL,
    DependencyCycleError,
)


@dataclass(frozen=True)
class UnlockResult:
    """Hold unlock value per node id (composite points) and the waits-on edges behind it."""

    unlock: pd.Series
    waits_on: pd.DataFrame
    broken_edges: tuple[tuple[str, str], ...]

    def blockers(self) -> pd.Series:
        """Return, per node id, the node ids it waits on directly (empty list when none)."""
        return self._lists("waiter", "blocker", "blockers")

    def unblocks(self) -> pd.Series:
        """Return, per node id, the node ids that wait on it directly (empty list when none)."""
        return self._lists("blocker", "waiter", "unblocks")

    def frame(self) -> pd.DataFrame:
        """Return one row per node id: unlock, blockers, unblocks."""
        return pd.DataFrame(
            {"unlock": self.unlock, "blockers": self.blockers(), "unblocks": self.unblocks()}
        )

    def _lists(self, owner: str, item: str, name: str) -> pd.Series:
        index = pd.Index(self.unlock.index)
        owners = index.get_indexer(self.waits_on[owner])
        items = self.waits_on[item].to_numpy(dtype=object)
        return pd.Series(grouped(owners, items, len(index)), index=index, name=name, dtype=object)


def _producer_edges_on_cycles(
    n: int, src: np.ndarray, dst: np.ndarray, producer: np.ndarray
) -> np.ndarray:
    """Return a mask of the dataset -> producer edges that lie on a cycle of waits-on edges."""
    # An edge u -> v lies on a cycle exactly when u and v share a strongly connected component.
    graph = csr_array((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=True, connection="strong")
    return producer & (component[src] == component[dst])


def unlock_values(
    projects: pd.DataFrame,
    dependencies: pd.DataFrame | None,
    links: pd.DataFrame | None,
    datasets: pd.DataFrame | None = None,
) -> UnlockResult:
    """Compute unlock(b) = sum over q waiting on b of (value(q) + unlock(q)) / n_blockers(q).

    Points are composite points (0-100 per project, summed). See the module docstring for who
    waits on whom. Keys are node ids (``project:<slug>``, ``dataset:<code>``) for every project
    and every dataset named in `datasets` or `links`. Raises `DependencyCycleError` when the
    dependencies themselves are cyclic.
    """
    slugs = projects["slug"].astype(str).to_numpy(dtype=object)
    status = projects["status"].astype(str).to_numpy(dtype=object)
    active = ~isin(status, INACTIVE)
    value = (
        np.nan_to_num(floats(projects["value"]), nan=0.0)
        if "value" in projects
        else (np.zeros(len(projects)))
    )
    value = np.where(active, value, 0.0)

    codes: list[str] = []
    if datasets is not None and len(datasets):
        codes.extend(datasets["code"].astype(str).tolist())
    if links is not None and len(links):
        codes.extend(links["dataset"].astype(str).tolist())
    codes_arr = pd.unique(np.asarray(codes, dtype=object))
    n_p, n_d = len(slugs), len(codes_arr)
    n = n_p + n_d
    labels = np.concatenate(
        [
            np.asarray([PROJECT + s for s in slugs], dtype=object),
            np.asarray([DATASET + c for c in codes_arr], dtype=object),
        ]
    )
    p_index = pd.Index(slugs)
    d_index = pd.Index(codes_arr)

    srcs, dsts, kinds = [], [], []
    dep_src, dep_dst = dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        p_index,
    )
    waits = active[dep_src] & (status[dep_dst] != DELIVERED)
    srcs.append(dep_src[waits])
    dsts.append(dep_dst[waits])
    kinds.append(np.zeros(int(waits.sum()), dtype=bool))

    blocking = blocking_links(projects, links)
    u_src = p_index.get_indexer(blocking["project"])
    u_dst = d_index.get_indexer(blocking["dataset"]) + n_p
    srcs.append(u_src.astype(np.int64))
    dsts.append(u_dst.astype(np.int64))
    kinds.append(np.zeros(len(u_src), dtype=bool))

    if links is not None and len(links) and "relation" in links.columns:
        ready_codes: set[str] = set()
        if datasets is not None and "drl" in datasets.columns:
            ready_codes = set(datasets.loc[datasets["drl"].eq(READY_DRL), "code"].astype(str))
        prod = links.loc[links["relation"].eq("produces"), ["project", "dataset"]].astype(str)
        prod = prod[~isin(prod["dataset"], ready_codes)].drop_duplicates()
        pr_dst = p_index.get_indexer(prod["project"])
        pr_src = d_index.get_indexer(prod["dataset"]) + n_p
        ok = pr_dst >= 0
        ok[ok] &= active[pr_dst[ok]]
        srcs.append(pr_src[ok].astype(np.int64))
        dsts.append(pr_dst[ok].astype(np.int64))
        kinds.append(np.ones(int(ok.sum()), dtype=bool))

    src = np.concatenate(srcs)
    dst = np.concatenate(dsts)
    producer = np.concatenate(kinds)
    broken: tuple[tuple[str, str], ...] = ()
    if topological_order(n, src, dst) is None:
        drop = _producer_edges_on_cycles(n, src, dst, producer)
        broken = tuple(
            sorted(
                (str(labels[a]), str(labels[b]))
                for a, b in zip(src[drop].tolist(), dst[drop].tolist(), strict=True)
            )
        )
        src, dst = src[~drop], dst[~drop]
        if topological_order(n, src, dst) is None:
            # Every cycle left is made of dependencies alone.
            cycle = cycle_in(n, src, dst, labels)
            raise DependencyCycleError([s.removeprefix(PROJECT) for s in cycle])

    # Generations of the waits-on DAG: every waiter sits in an earlier generation than what it
    # waits on, so a node's unlock is final before its own share is passed on.
    levels = generations(n, src, dst)
    assert levels is not None
    indptr, indices = csr(src, dst, n)
    own = np.concatenate([value, np.zeros(n_d)])
    unlock = np.zeros(n)
    for level in levels:
        counts, targets = out_edges(indptr, indices, level)
        if targets.size:
            share = (own[level] + unlock[level]) / np.maximum(counts, 1)
            np.add.at(unlock, targets, np.repeat(share, counts))

    return UnlockResult(
        unlock=pd.Series(unlock, index=labels, name="unlock"),
        waits_on=pd.DataFrame({"waiter": labels[src], "blocker": labels[dst]}),
        broken_edges=broken,
    )
