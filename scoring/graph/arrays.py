"""Integer-index helpers over edge arrays, shared by the graph, ranking, plan and roadmap."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd


def isin(values: pd.Series | np.ndarray | pd.Index, pool: Iterable[Any]) -> np.ndarray:
    """Return a boolean mask of the `values` that occur in `pool`."""
    # pandas 3's Arrow-backed str dtype builds one pyarrow scalar per pool item in Series.isin
    # (seconds for 100k items); a hash lookup through Index.get_indexer stays linear.
    index = pool if isinstance(pool, pd.Index) else pd.Index(list(pool), dtype=object)
    if not index.is_unique:
        index = index.unique()
    return index.get_indexer(pd.Index(np.asarray(values, dtype=object), dtype=object)) >= 0


def flag(df: pd.DataFrame, name: str) -> np.ndarray:
    """Return a boolean column with missing values (or a missing column) as False."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df[name].eq(True).to_numpy(dtype=bool, na_value=False)


def floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def index_pairs(
    left: pd.Series | np.ndarray, right: pd.Series | np.ndarray, index: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Map two label columns onto integer positions in `index`, dropping unknown labels."""
    src = index.get_indexer(pd.Index(left))
    dst = index.get_indexer(pd.Index(right))
    keep = (src >= 0) & (dst >= 0)
    src, dst = src[keep].astype(np.int64), dst[keep].astype(np.int64)
    if len(src):
        # Duplicated rows would count a blocker twice in equal shares: keep each pair once.
        key = np.unique(src * len(index) + dst)
        src, dst = key // len(index), key % len(index)
    return src, dst


def csr(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (indptr, indices) listing each source's targets in ascending source order."""
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order]


def adjacency_lists(src: np.ndarray, dst: np.ndarray, n: int) -> list[list[int]]:
    indptr, indices = csr(src, dst, n)
    flat = indices.tolist()
    bounds = indptr.tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]


def grouped(owner: np.ndarray, items: np.ndarray, n: int, key: np.ndarray | None = None) -> list:
    """Return, for each owner 0..n-1, the list of its items (ordered by `key`, else by item)."""
    sort = np.lexsort((items if key is None else key, owner))
    owners = owner[sort]
    flat = items[sort].tolist()
    bounds = np.searchsorted(owners, np.arange(n + 1)).tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]


def out_edges(
    indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (out-degree of each node, concatenated targets of their out-edges)."""
    starts = indptr[nodes]
    counts = indptr[nodes + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return counts, indices[:0]
    # Edge positions start..start+count-1 of every node, laid end to end.
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
    return counts, indices[offsets]


def generations(n: int, src: np.ndarray, dst: np.ndarray) -> list[np.ndarray] | None:
    """Split nodes into generations along src -> dst (each after all its sources); None on a cycle.

    Each generation is processed as whole arrays, so the cost is a few NumPy calls per
    generation (the longest dependency chain) rather than Python work per node.
    """
    indptr, indices = csr(src, dst, n)
    indegree = np.bincount(dst, minlength=n)
    frontier = np.flatnonzero(indegree == 0)
    levels: list[np.ndarray] = []
    done = 0
    while frontier.size:
        levels.append(frontier)
        done += frontier.size
        _, targets = out_edges(indptr, indices, frontier)
        if not targets.size:
            break
        hit, counts = np.unique(targets, return_counts=True)
        indegree[hit] -= counts
        frontier = hit[indegree[hit] == 0]
    return levels if done == n else None


def topological_order(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Return a topological order of edges src -> dst (src first), or None on a cycle."""
    levels = generations(n, src, dst)
    if levels is None:
        return None
    return np.concatenate(levels) if levels else np.zeros(0, dtype=np.int64)


def cycle_in(n: int, src: np.ndarray, dst: np.ndarray, labels: np.ndarray) -> list[str]:
    """Name one cycle among edges src -> dst (only called once a cycle is known to exist)."""
    g = nx.DiGraph()
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    cycle = nx.find_cycle(g)
    path = [str(labels[u]) for u, _ in cycle]
    return path + [path[0]]


def dependency_edges(
    dependencies: pd.DataFrame | None, index: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Return (project, prerequisite) integer pairs of known projects."""
    if dependencies is None or len(dependencies) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return index_pairs(dependencies["project"], dependencies["depends_on"], index)
