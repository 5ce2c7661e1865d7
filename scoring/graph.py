"""Portfolio graph: projects, datasets and organisations; cycles, blockers and unlock value.

Node ids are namespaced: ``project:<slug>``, ``dataset:<code>``, ``org:<code>``. Edges point
from the actor to the thing acted on: ``project -depends_on-> prerequisite project``,
``project -uses-> dataset``, ``project -produces-> dataset``, ``org -partners_in-> project``,
``org -publishes-> dataset``.

Unlock value (the portfolio value waiting on a project or a dataset), in composite points:

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

import gc
import io
import math
import os
import re
from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

STATUSES: tuple[str, ...] = (
    "idea",
    "proposed",
    "approved",
    "in_progress",
    "delivered",
    "paused",
    "rejected",
)
DELIVERED = "delivered"
REJECTED = "rejected"
INACTIVE: frozenset[str] = frozenset({DELIVERED, REJECTED})
READY_DRL = "B1"

PROJECT = "project:"
DATASET = "dataset:"
ORG = "org:"

EDGE_KINDS: tuple[str, ...] = ("depends_on", "uses", "produces", "partners_in", "publishes")


class DependencyCycleError(ValueError):
    """Signal that project dependencies form a cycle; ``cycle`` is ``[a, b, ..., a]``."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependencies form a cycle: " + " -> ".join(cycle))


def project_id(slug: str) -> str:
    """Return the graph node id of a project."""
    return PROJECT + str(slug)


def dataset_id(code: str) -> str:
    """Return the graph node id of a dataset."""
    return DATASET + str(code)


def org_id(code: str) -> str:
    """Return the graph node id of an organisation."""
    return ORG + str(code)


# ---------------------------------------------------------------------------------------------
# Shared integer-index helpers (also used by ranking and plan)


def _isin(values: pd.Series | np.ndarray | pd.Index, pool: Iterable[Any]) -> np.ndarray:
    """Return a boolean mask of the `values` that occur in `pool`."""
    # pandas 3's Arrow-backed str dtype builds one pyarrow scalar per pool item in Series.isin
    # (seconds for 100k items); a hash lookup through Index.get_indexer stays linear.
    index = pool if isinstance(pool, pd.Index) else pd.Index(list(pool), dtype=object)
    if not index.is_unique:
        index = index.unique()
    return index.get_indexer(pd.Index(np.asarray(values, dtype=object), dtype=object)) >= 0


def _flag(df: pd.DataFrame, name: str) -> np.ndarray:
    """Return a boolean column with missing values (or a missing column) as False."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df[name].eq(True).to_numpy(dtype=bool, na_value=False)


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _index_pairs(
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


def _csr(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (indptr, indices) listing each source's targets in ascending source order."""
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order]


def _adjacency_lists(src: np.ndarray, dst: np.ndarray, n: int) -> list[list[int]]:
    indptr, indices = _csr(src, dst, n)
    flat = indices.tolist()
    bounds = indptr.tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]


def _grouped(owner: np.ndarray, items: np.ndarray, n: int, key: np.ndarray | None = None) -> list:
    """Return, for each owner 0..n-1, the list of its items (ordered by `key`, else by item)."""
    sort = np.lexsort((items if key is None else key, owner))
    owners = owner[sort]
    flat = items[sort].tolist()
    bounds = np.searchsorted(owners, np.arange(n + 1)).tolist()
    return [flat[bounds[i] : bounds[i + 1]] for i in range(n)]


def _out_edges(
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


def _generations(n: int, src: np.ndarray, dst: np.ndarray) -> list[np.ndarray] | None:
    """Split nodes into generations along src -> dst (each after all its sources); None on a cycle.

    Each generation is processed as whole arrays, so the cost is a few NumPy calls per
    generation (the longest dependency chain) rather than Python work per node.
    """
    indptr, indices = _csr(src, dst, n)
    indegree = np.bincount(dst, minlength=n)
    frontier = np.flatnonzero(indegree == 0)
    levels: list[np.ndarray] = []
    done = 0
    while frontier.size:
        levels.append(frontier)
        done += frontier.size
        _, targets = _out_edges(indptr, indices, frontier)
        if not targets.size:
            break
        hit, counts = np.unique(targets, return_counts=True)
        indegree[hit] -= counts
        frontier = hit[indegree[hit] == 0]
    return levels if done == n else None


def _topological_order(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Return a topological order of edges src -> dst (src first), or None on a cycle."""
    levels = _generations(n, src, dst)
    if levels is None:
        return None
    return np.concatenate(levels) if levels else np.zeros(0, dtype=np.int64)


def _cycle_in(n: int, src: np.ndarray, dst: np.ndarray, labels: np.ndarray) -> list[str]:
    """Name one cycle among edges src -> dst (only called once a cycle is known to exist)."""
    g = nx.DiGraph()
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    cycle = nx.find_cycle(g)
    path = [str(labels[u]) for u, _ in cycle]
    return path + [path[0]]


def _dependency_edges(
    dependencies: pd.DataFrame | None, index: pd.Index
) -> tuple[np.ndarray, np.ndarray]:
    """Return (project, prerequisite) integer pairs of known projects."""
    if dependencies is None or len(dependencies) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return _index_pairs(dependencies["project"], dependencies["depends_on"], index)


# ---------------------------------------------------------------------------------------------
# Graph construction and export


def _records(df: pd.DataFrame, columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """Turn the present `columns` (source -> attribute) into per-row attribute dicts."""
    cols: dict[str, list[Any]] = {}
    for source, attr in columns.items():
        if source not in df.columns:
            continue
        s = df[source]
        if pd.api.types.is_bool_dtype(s):
            cols[attr] = s.to_numpy(dtype=bool, na_value=False).tolist()
        elif pd.api.types.is_numeric_dtype(s):
            cols[attr] = s.to_numpy(dtype=np.float64, na_value=np.nan).tolist()
        else:
            cols[attr] = s.astype(object).where(s.notna(), None).tolist()
    if not cols:
        return [{} for _ in range(len(df))]
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def build_graph(
    projects: pd.DataFrame,
    datasets: pd.DataFrame | None = None,
    *,
    organisations: pd.DataFrame | None = None,
    dependencies: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    partners: pd.DataFrame | None = None,
) -> nx.MultiDiGraph:
    """Build the portfolio graph with namespaced node ids and typed edges.

    Edge keys are the edge kind (``partners_in:<role>`` for partnerships, so one organisation can
    hold several roles). Rows naming an unknown project are dropped; datasets and organisations
    named by links, partners, owners or publishers but missing from their tables are added with
    only ``kind`` and ``code``.
    """
    # Hundreds of thousands of small attribute dicts set off repeated full collections that
    # cost about as much as the build (measured); none of these objects form reference cycles.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_graph(projects, datasets, organisations, dependencies, links, partners)
    finally:
        if was_enabled:
            gc.enable()


def _add_edges(g: nx.MultiDiGraph, edges: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
    """Add keyed edges to a MultiDiGraph; a repeated (u, v, key) replaces the earlier attributes."""
    # add_edges_from spends ~15 us per keyed edge on views and cache clearing; filling the
    # adjacency dicts the way MultiDiGraph.add_edge does costs a fraction of that.
    succ, pred = g._succ, g._pred
    for u, v, key, data in edges:
        try:
            targets = succ[u]
            keys = targets.get(v)
            if keys is None:
                keys = {}
                pred[v][u] = keys  # raises before anything changes when v is not a node yet
                targets[v] = keys
            keys[key] = data
        except KeyError:
            g.add_edge(u, v, key, **data)
    nx._clear_cache(g)


PROJECT_ATTRS = {
    "title": "label", "name": "label", "status": "status", "value": "value",
    "mandatory": "mandatory", "cost_gbp": "cost_gbp", "effort_pm": "effort_pm", "theme": "theme",
    "owner": "owner", "readiness": "readiness",
}
DATASET_ATTRS = {
    "title": "label", "name": "label", "publisher": "publisher", "drl": "drl",
    "access": "access", "update_frequency": "update_frequency",
}
LINK_ATTRS = {
    "required": "required", "ready": "ready", "readiness": "readiness", "fit_for_task": "fit",
    "fit": "fit", "agreement": "agreement",
}
Edge = tuple[str, str, str, dict[str, Any]]


def _add_project_nodes(g: nx.MultiDiGraph, projects: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """Add a node per project; return the slugs and their node ids, refusing duplicate slugs."""
    slugs = projects["slug"].astype(str)
    known = pd.Index(slugs.to_numpy(dtype=object), dtype=object)
    if not known.is_unique:
        raise ValueError(f"duplicate project slugs: {sorted(set(known[known.duplicated()]))[:5]}")
    node_ids = np.asarray([PROJECT + s for s in known], dtype=object)
    attrs = _records(projects, PROJECT_ATTRS)
    g.add_nodes_from(
        (i, {"kind": "project", "slug": s, "label": a.pop("label", None) or s, **a})
        for i, s, a in zip(node_ids.tolist(), known.tolist(), attrs, strict=True)
    )
    return known, node_ids


def _coded_nodes(frame: pd.DataFrame | None, kind: str,
                 columns: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Return organisation or dataset nodes by code, labelled by name or else by code."""
    nodes: dict[str, dict[str, Any]] = {}
    if frame is None or not len(frame):
        return nodes
    for code, a in zip(frame["code"].astype(str).tolist(), _records(frame, columns),
                       strict=True):
        nodes[code] = {"kind": kind, "code": code, **a}
        nodes[code]["label"] = nodes[code].get("label") or code
    return nodes


def _dependency_edge_list(dependencies: pd.DataFrame | None, known: pd.Index,
                          node_ids: np.ndarray) -> list[Edge]:
    """Return the 'waits on' edges between known projects."""
    if dependencies is None or not len(dependencies):
        return []
    src, dst = _dependency_edges(dependencies.astype({"project": str, "depends_on": str}), known)
    return [(p, q, "depends_on", {"kind": "depends_on"})
            for p, q in zip(node_ids[src].tolist(), node_ids[dst].tolist(), strict=True)]


def _link_edges(links: pd.DataFrame | None, known: pd.Index,
                ds_nodes: dict[str, dict[str, Any]]) -> list[Edge]:
    """Return projects' uses and products of datasets, adding any dataset not yet a node."""
    if links is None or not len(links):
        return []
    lk = links[_isin(links["project"].astype(str), known)]
    relation = (lk["relation"].astype(str).tolist() if "relation" in lk.columns
                else ["uses"] * len(lk))
    edges: list[Edge] = []
    for p, d, rel, a in zip(lk["project"].astype(str).tolist(), lk["dataset"].astype(str).tolist(),
                            relation, _records(lk, LINK_ATTRS), strict=True):
        edges.append((PROJECT + p, DATASET + d, rel, {"kind": rel, **a}))
        if d not in ds_nodes:
            ds_nodes[d] = {"kind": "dataset", "code": d, "label": d}
    return edges


def _partner_edges(partners: pd.DataFrame | None, known: pd.Index,
                   org_nodes: dict[str, dict[str, Any]]) -> list[Edge]:
    """Return organisations' parts in projects, adding any organisation not yet a node."""
    if partners is None or not len(partners):
        return []
    pt = partners[_isin(partners["project"].astype(str), known)]
    roles = (pt["role"].astype(object).where(pt["role"].notna(), None).tolist()
             if "role" in pt.columns else [None] * len(pt))
    edges: list[Edge] = []
    for o, p, role in zip(pt["organisation"].astype(str).tolist(),
                          pt["project"].astype(str).tolist(), roles, strict=True):
        key = "partners_in" if role is None else f"partners_in:{role}"
        edges.append((ORG + o, PROJECT + p, key, {"kind": "partners_in", "role": role}))
        org_nodes.setdefault(o, {"kind": "organisation", "code": o, "label": o})
    return edges


def _publisher_edges(ds_nodes: dict[str, dict[str, Any]],
                     org_nodes: dict[str, dict[str, Any]]) -> list[Edge]:
    """Return publishers' edges to their datasets, adding any publisher not yet a node."""
    edges: list[Edge] = []
    for code, a in ds_nodes.items():
        publisher = a.get("publisher")
        if publisher:
            edges.append((ORG + publisher, DATASET + code, "publishes", {"kind": "publishes"}))
            org_nodes.setdefault(
                publisher, {"kind": "organisation", "code": publisher, "label": publisher})
    return edges


def _build_graph(
    projects: pd.DataFrame,
    datasets: pd.DataFrame | None,
    organisations: pd.DataFrame | None,
    dependencies: pd.DataFrame | None,
    links: pd.DataFrame | None,
    partners: pd.DataFrame | None,
) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    known, node_ids = _add_project_nodes(g, projects)
    org_nodes = _coded_nodes(organisations, "organisation", {"name": "label", "kind": "org_kind"})
    ds_nodes = _coded_nodes(datasets, "dataset", DATASET_ATTRS)
    # Edges in this order (nodes met on the way are added after the projects, datasets first).
    edges = [*_dependency_edge_list(dependencies, known, node_ids),
             *_link_edges(links, known, ds_nodes),
             *_partner_edges(partners, known, org_nodes),
             *_publisher_edges(ds_nodes, org_nodes)]
    if "owner" in projects.columns:
        for o in projects["owner"].dropna().astype(str).unique().tolist():
            org_nodes.setdefault(o, {"kind": "organisation", "code": o, "label": o})
    g.add_nodes_from((DATASET + c, a) for c, a in ds_nodes.items())
    g.add_nodes_from((ORG + c, a) for c, a in org_nodes.items())
    _add_edges(g, edges)
    return g


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_scalar(v) for v in value]
    return value


def graph_to_node_link(
    g: nx.MultiDiGraph | nx.DiGraph,
    *,
    kinds: Iterable[str] | None = None,
    edge_kinds: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    themes: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    node_ids: Iterable[str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Export the graph as cytoscape elements ``{"nodes": [{"data": ...}], "edges": [...]}``.

    `kinds`, `edge_kinds` and `node_ids` filter every node or edge; `statuses`, `themes` and
    `owners` filter projects, and when any of them is given a dataset or organisation is kept
    only if it touches a kept project. NaN becomes null so the result is valid JSON.
    """
    kind_set = None if kinds is None else set(kinds)
    edge_set = None if edge_kinds is None else set(edge_kinds)
    status_set = None if statuses is None else set(statuses)
    theme_set = None if themes is None else set(themes)
    owner_set = None if owners is None else set(owners)
    id_set = None if node_ids is None else set(node_ids)
    project_filter = status_set is not None or theme_set is not None or owner_set is not None

    def keep(n: Hashable, d: Mapping[str, Any]) -> bool:
        if id_set is not None and n not in id_set:
            return False
        if kind_set is not None and d.get("kind") not in kind_set:
            return False
        if d.get("kind") == "project":
            if status_set is not None and d.get("status") not in status_set:
                return False
            if theme_set is not None and d.get("theme") not in theme_set:
                return False
            if owner_set is not None and d.get("owner") not in owner_set:
                return False
        return True

    kept = {n for n, d in g.nodes(data=True) if keep(n, d)}
    if project_filter:
        projects = {n for n in kept if g.nodes[n].get("kind") == "project"}
        touching = {m for p in projects for m in nx.all_neighbors(g, p)}
        kept = projects | {n for n in kept if n in touching}

    kept_in_order = [n for n in g.nodes if n in kept]
    nodes = [
        {"data": {k: _json_scalar(v) for k, v in {"id": n, "label": n, **g.nodes[n]}.items()}}
        for n in kept_in_order
    ]
    edges = []
    multi = g.is_multigraph()
    # Out-edges of the kept nodes in node order: the order g.edges gives, without walking the
    # edges of every node when a filter keeps a few.
    found = (g.out_edges(kept_in_order, keys=True, data=True) if multi
             else g.out_edges(kept_in_order, data=True))
    for e in found:
        u, v, d = e[0], e[1], e[-1]
        if v not in kept:
            continue
        kind = d.get("kind", e[2] if multi else None)
        if edge_set is not None and kind not in edge_set:
            continue
        key = e[2] if multi else kind
        data = {k: _json_scalar(x) for k, x in d.items()}
        data.update(id=f"{u}|{key}|{v}", source=u, target=v, kind=kind)
        edges.append({"data": data})
    return {"nodes": nodes, "edges": edges}


# XML 1.0 cannot hold C0 control characters but tab and line breaks: lxml refuses them.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _graphml_scalar(value: Any) -> Any:
    """Return a GraphML-storable scalar, or None to drop the attribute."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        value = "; ".join(str(v) for v in value)
    if isinstance(value, str):
        return XML_ILLEGAL.sub("", value)
    if isinstance(value, (bool, int, float)):
        return value
    return XML_ILLEGAL.sub("", str(value))


def _clean_attrs(items: list[dict[str, Any]]) -> None:
    """Make each attribute name hold one GraphML type across all items (in place)."""
    types: dict[str, set[type]] = {}
    for attrs in items:
        for k in list(attrs):
            v = _graphml_scalar(attrs[k])
            if v is None:
                del attrs[k]
            else:
                attrs[k] = v
                types.setdefault(k, set()).add(type(v))
    for k, ts in types.items():
        if len(ts) == 1:
            continue
        # bool is an int subclass in Python but a distinct type in GraphML.
        target: type = float if ts <= {int, float} else str
        for attrs in items:
            if k in attrs:
                attrs[k] = target(attrs[k])


def write_graphml(
    g: nx.MultiDiGraph | nx.DiGraph, path_or_buffer: str | os.PathLike[str] | BinaryIO | TextIO
) -> None:
    """Write the graph as GraphML readable by ``nx.read_graphml`` (None/NaN attributes dropped)."""
    h = g.__class__()
    node_attrs = [dict(d) for _, d in g.nodes(data=True)]
    edge_rows = list(g.edges(keys=True, data=True) if g.is_multigraph() else g.edges(data=True))
    edge_attrs = [dict(e[-1]) for e in edge_rows]
    _clean_attrs(node_attrs)
    _clean_attrs(edge_attrs)
    h.add_nodes_from(zip(list(g.nodes), node_attrs, strict=True))
    h.add_edges_from((*e[:-1], a) for e, a in zip(edge_rows, edge_attrs, strict=True))
    if isinstance(path_or_buffer, io.TextIOBase):
        path_or_buffer.write("\n".join(nx.generate_graphml(h)))
    else:
        nx.write_graphml(h, path_or_buffer)


# ---------------------------------------------------------------------------------------------
# Cycles, layers, checks


def _adjacency(edges: Any) -> Mapping[str, Iterable[str]]:
    if isinstance(edges, nx.Graph):
        return edges.adj
    if isinstance(edges, Mapping):
        return edges
    pairs = (
        zip(edges["project"].tolist(), edges["depends_on"].tolist(), strict=True)
        if isinstance(edges, pd.DataFrame)
        else edges
    )
    adj: dict[str, list[str]] = {}
    for p, q in pairs:
        adj.setdefault(p, []).append(q)
    return adj


def find_cycle_path(
    edges: pd.DataFrame | Mapping[str, Iterable[str]] | nx.DiGraph | Iterable[tuple[str, str]],
    new_edge: tuple[str, str],
) -> list[str] | None:
    """Return the cycle ``[project, depends_on, ..., project]`` the new edge would close, or None.

    `edges` are existing "project depends on depends_on" pairs (a frame with those columns, an
    adjacency mapping project -> prerequisites, a DiGraph of slugs, or pairs). One breadth-first
    search from `depends_on` looks for `project`, so the named cycle is a shortest one.
    """
    project, prerequisite = new_edge
    if project == prerequisite:
        return [project, project]
    adj = _adjacency(edges)
    parent: dict[str, str | None] = {prerequisite: None}
    queue = deque([prerequisite])
    while queue:
        u = queue.popleft()
        for w in adj.get(u, ()):
            if w in parent:
                continue
            parent[w] = u
            if w == project:
                path = [w]
                while (step := parent[path[-1]]) is not None:
                    path.append(step)
                return [project, *reversed(path)]
            queue.append(w)
    return None


def find_cycles(dependencies: pd.DataFrame) -> list[list[str]]:
    """Return one shortest cycle ``[a, b, ..., a]`` per strongly connected group of projects.

    Listing every simple cycle can be exponential; one cycle per group names every group that
    must be broken. Each cycle starts at the group's smallest slug; the list is sorted.
    """
    if len(dependencies) == 0:
        return []
    pairs = dependencies[["project", "depends_on"]].astype(str).drop_duplicates()
    labels = pd.Index(pd.unique(pairs.to_numpy().ravel()))
    src, dst = _index_pairs(pairs["project"], pairs["depends_on"], labels)
    n = len(labels)
    graph = csr_array((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(component)
    self_loop = np.zeros(n, dtype=bool)
    self_loop[src[src == dst]] = True
    cyclic = (sizes[component] > 1) | self_loop
    if not cyclic.any():
        return []
    adj = _adjacency_lists(src, dst, n)
    cycles = []
    for comp in np.unique(component[cyclic]).tolist():
        members = np.flatnonzero(component == comp)
        start = min(members.tolist(), key=lambda i: labels[i])
        if self_loop[start] and len(members) == 1:
            cycles.append([labels[start], labels[start]])
            continue
        # Breadth-first from the start, staying inside the group, back to the start.
        inside = set(members.tolist())
        parent: dict[int, int] = {}
        queue = deque([start])
        found = None
        while queue and found is None:
            u = queue.popleft()
            for w in adj[u]:
                if w == start:
                    found = u
                    break
                if w in inside and w not in parent:
                    parent[w] = u
                    queue.append(w)
        assert found is not None
        path = [found]
        while path[-1] != start:
            path.append(parent[path[-1]])
        cycles.append([str(labels[i]) for i in [*reversed(path), start]])
    return sorted(cycles)


def topological_layers(
    dependencies: pd.DataFrame | None, slugs: Iterable[str] | None = None
) -> list[list[str]]:
    """Group projects into layers, prerequisites first; each layer depends only on earlier ones.

    With `slugs`, only those projects and the dependencies among them count (a project with no
    dependency inside the set is in layer 0); otherwise every project named in `dependencies`.
    Layers are sorted by slug. Raises `DependencyCycleError` on a cycle.
    """
    if slugs is None:
        names = (
            []
            if dependencies is None
            else dependencies[["project", "depends_on"]].astype(str).to_numpy().ravel()
        )
        index = pd.Index(pd.unique(np.asarray(names, dtype=object)))
    else:
        index = pd.Index(pd.unique(np.asarray([str(s) for s in slugs], dtype=object)))
    index = index.sort_values()
    n = len(index)
    if n == 0:
        return []
    src, dst = _dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        index,
    )
    # Edge prerequisite -> dependant, so a layer's members have every prerequisite earlier.
    levels = _generations(n, dst, src)
    if levels is None:
        raise DependencyCycleError(_cycle_in(n, src, dst, index.to_numpy()))
    # The index is sorted and generations come out in index order, so layers are sorted too.
    names = index.to_numpy(dtype=object)
    return [names[level].tolist() for level in levels]


def _statuses(projects: pd.DataFrame) -> pd.Series:
    return projects["status"].astype(str).set_axis(projects["slug"].astype(str))


def unused_datasets(
    datasets: pd.DataFrame, links: pd.DataFrame, projects: pd.DataFrame | None = None
) -> list[str]:
    """List dataset codes that no project uses (rejected projects' uses do not count), sorted."""
    used = links
    if "relation" in used.columns:
        used = used[used["relation"].eq("uses")]
    if projects is not None:
        rejected = _statuses(projects).loc[lambda s: s.eq(REJECTED)].index
        used = used[~_isin(used["project"].astype(str), rejected)]
    codes = datasets["code"].astype(str)
    return sorted(codes[~_isin(codes, used["dataset"].astype(str))].tolist())


def _link_ready(links: pd.DataFrame) -> np.ndarray:
    if "ready" in links.columns:
        return _flag(links, "ready")
    if "readiness" in links.columns:
        return _floats(links["readiness"]) >= 1.0
    return np.zeros(len(links), dtype=bool)


def _blocking_links(projects: pd.DataFrame, links: pd.DataFrame | None) -> pd.DataFrame:
    """Return (project, dataset) rows: active projects' required uses that are not ready."""
    if links is None or len(links) == 0:
        return pd.DataFrame({"project": [], "dataset": []}, dtype=object)
    mask = _flag(links, "required") & ~_link_ready(links)
    if "relation" in links.columns:
        mask &= links["relation"].eq("uses").to_numpy(dtype=bool, na_value=False)
    rows = links.loc[mask, ["project", "dataset"]].astype(str)
    status = _statuses(projects)
    active = status.index[~_isin(status, INACTIVE)]
    return rows[_isin(rows["project"], active)].drop_duplicates()


def blocked_projects(
    projects: pd.DataFrame, dependencies: pd.DataFrame | None, links: pd.DataFrame | None
) -> pd.DataFrame:
    """List active projects waiting on an undelivered prerequisite or a required unready link.

    Columns: slug, blocked_by_projects (undelivered prerequisite slugs, rejected ones included),
    blocked_by_datasets (dataset codes), blocked_by_rejected (a prerequisite is rejected).
    """
    status = _statuses(projects)
    active = status.index[~_isin(status, INACTIVE)]
    if dependencies is not None and len(dependencies):
        dep = dependencies[["project", "depends_on"]].astype(str).drop_duplicates()
        dep = dep[_isin(dep["project"], active) & _isin(dep["depends_on"], status.index)]
        dep_status = status.reindex(dep["depends_on"]).to_numpy()
        dep = dep[dep_status != DELIVERED].assign(
            rejected=status.reindex(dep["depends_on"]).to_numpy()[dep_status != DELIVERED]
            == REJECTED
        )
    else:
        dep = pd.DataFrame({"project": [], "depends_on": [], "rejected": []})
    by_project = dep.sort_values("depends_on").groupby("project")["depends_on"].agg(list)
    by_rejected = dep.groupby("project")["rejected"].any()
    data = _blocking_links(projects, links).sort_values("dataset")
    by_dataset = data.groupby("project")["dataset"].agg(list)
    slugs = sorted(set(by_project.index) | set(by_dataset.index))
    return pd.DataFrame(
        {
            "slug": slugs,
            "blocked_by_projects": [by_project.get(s, []) for s in slugs],
            "blocked_by_datasets": [by_dataset.get(s, []) for s in slugs],
            "blocked_by_rejected": [bool(by_rejected.get(s, False)) for s in slugs],
        }
    )


# ---------------------------------------------------------------------------------------------
# Unlock value


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
        return pd.Series(_grouped(owners, items, len(index)), index=index, name=name, dtype=object)


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
    active = ~_isin(status, INACTIVE)
    value = (
        np.nan_to_num(_floats(projects["value"]), nan=0.0)
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
    dep_src, dep_dst = _dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        p_index,
    )
    waits = active[dep_src] & (status[dep_dst] != DELIVERED)
    srcs.append(dep_src[waits])
    dsts.append(dep_dst[waits])
    kinds.append(np.zeros(int(waits.sum()), dtype=bool))

    blocking = _blocking_links(projects, links)
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
        prod = prod[~_isin(prod["dataset"], ready_codes)].drop_duplicates()
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
    if _topological_order(n, src, dst) is None:
        drop = _producer_edges_on_cycles(n, src, dst, producer)
        broken = tuple(
            sorted(
                (str(labels[a]), str(labels[b]))
                for a, b in zip(src[drop].tolist(), dst[drop].tolist(), strict=True)
            )
        )
        src, dst = src[~drop], dst[~drop]
        if _topological_order(n, src, dst) is None:
            # Every cycle left is made of dependencies alone.
            cycle = _cycle_in(n, src, dst, labels)
            raise DependencyCycleError([s.removeprefix(PROJECT) for s in cycle])

    # Generations of the waits-on DAG: every waiter sits in an earlier generation than what it
    # waits on, so a node's unlock is final before its own share is passed on.
    levels = _generations(n, src, dst)
    assert levels is not None
    indptr, indices = _csr(src, dst, n)
    own = np.concatenate([value, np.zeros(n_d)])
    unlock = np.zeros(n)
    for level in levels:
        counts, targets = _out_edges(indptr, indices, level)
        if targets.size:
            share = (own[level] + unlock[level]) / np.maximum(counts, 1)
            np.add.at(unlock, targets, np.repeat(share, counts))

    return UnlockResult(
        unlock=pd.Series(unlock, index=labels, name="unlock"),
        waits_on=pd.DataFrame({"waiter": labels[src], "blocker": labels[dst]}),
        broken_edges=broken,
    )


# ---------------------------------------------------------------------------------------------
# Collaboration clusters


@dataclass(frozen=True)
class CollaborationCluster:
    """Hold a group of collaborating organisations with the projects and datasets they share."""

    organisations: tuple[str, ...]
    projects: tuple[str, ...]
    datasets: tuple[str, ...]

    @property
    def size(self) -> int:
        """Return the number of organisations."""
        return len(self.organisations)


def _pairs(df: pd.DataFrame, on: str) -> pd.DataFrame:
    """Return distinct organisation pairs (a < b) sharing a value of column `on`."""
    merged = df.merge(df, on=on, suffixes=("_a", "_b"))
    merged = merged[merged["org_a"] < merged["org_b"]]
    return merged[["org_a", "org_b", on]].drop_duplicates()


def collaboration_clusters(
    partners: pd.DataFrame,
    projects: pd.DataFrame,
    links: pd.DataFrame | None = None,
    datasets: pd.DataFrame | None = None,
    *,
    seed: int = 0,
    split_above: int = 12,
    resolution: float = 1.0,
    min_size: int = 2,
) -> list[CollaborationCluster]:
    """Group organisations that work together, largest first.

    Two organisations are tied when both own or partner in one project (rejected projects
    excluded), or when one is involved in a project using a dataset the other publishes; a tie
    weighs the number of shared projects and datasets. Connected groups larger than
    `split_above` are split by Louvain communities (seeded, so results repeat). A cluster's
    projects involve two or more of its organisations; its datasets are used or published by
    two or more of them.
    """
    status = _statuses(projects)
    live = set(status.index[status.ne(REJECTED)])
    involved = [
        pd.DataFrame(
            {
                "org": partners["organisation"].astype(str),
                "project": partners["project"].astype(str),
            }
        )
    ]
    if "owner" in projects.columns:
        owned = projects[projects["owner"].notna()]
        involved.append(
            pd.DataFrame({"org": owned["owner"].astype(str), "project": owned["slug"].astype(str)})
        )
    org_project = pd.concat(involved, ignore_index=True).drop_duplicates()
    org_project = org_project[_isin(org_project["project"], live)]

    org_dataset = pd.DataFrame({"org": [], "dataset": []}, dtype=object)
    if links is not None and len(links):
        uses = links
        if "relation" in uses.columns:
            uses = uses[uses["relation"].eq("uses")]
        uses = pd.DataFrame(
            {"project": uses["project"].astype(str), "dataset": uses["dataset"].astype(str)}
        )
        users = org_project.merge(uses, on="project")[["org", "dataset"]]
        parts = [users.assign(publisher=False)]
        if datasets is not None and "publisher" in datasets.columns:
            pub = datasets[datasets["publisher"].notna()]
            parts.append(
                pd.DataFrame(
                    {
                        "org": pub["publisher"].astype(str),
                        "dataset": pub["code"].astype(str),
                        "publisher": True,
                    }
                )
            )
        tagged = pd.concat(parts, ignore_index=True).drop_duplicates()
        users_t = tagged[~tagged["publisher"]][["org", "dataset"]].drop_duplicates()
        pubs_t = tagged[tagged["publisher"]][["org", "dataset"]]
        ties = users_t.merge(pubs_t, on="dataset", suffixes=("_a", "_b"))
        ties = ties[ties["org_a"] != ties["org_b"]]
        swap = ties["org_a"] > ties["org_b"]
        a = np.where(swap, ties["org_b"], ties["org_a"])
        b = np.where(swap, ties["org_a"], ties["org_b"])
        dataset_ties = pd.DataFrame({"org_a": a, "org_b": b, "dataset": ties["dataset"]})
        org_dataset = tagged[["org", "dataset"]].drop_duplicates()
    else:
        dataset_ties = pd.DataFrame({"org_a": [], "org_b": [], "dataset": []}, dtype=object)

    project_ties = _pairs(org_project, "project")
    weights = pd.concat(
        [
            project_ties[["org_a", "org_b"]],
            dataset_ties.drop_duplicates()[["org_a", "org_b"]],
        ],
        ignore_index=True,
    ).value_counts()
    g = nx.Graph()
    g.add_nodes_from(sorted(set(org_project["org"])))
    g.add_weighted_edges_from((a, b, int(w)) for (a, b), w in weights.sort_index().items())

    groups: list[set[str]] = []
    for comp in sorted(nx.connected_components(g), key=lambda c: sorted(c)[0]):
        if len(comp) < min_size:
            continue
        if len(comp) > split_above:
            sub = g.subgraph(sorted(comp))
            groups.extend(
                nx.community.louvain_communities(
                    sub, weight="weight", resolution=resolution, seed=seed
                )
            )
        else:
            groups.append(set(comp))
    groups = [grp for grp in groups if len(grp) >= min_size]
    if not groups:
        return []

    member = pd.Series(
        {o: i for i, grp in enumerate(groups) for o in grp}, name="cluster", dtype=np.int64
    )

    def shared(table: pd.DataFrame, col: str) -> pd.Series:
        t = table.assign(cluster=table["org"].map(member)).dropna(subset=["cluster"])
        t = t.astype({"cluster": np.int64})
        counts = t.groupby(["cluster", col])["org"].nunique()
        counts = counts[counts >= 2].reset_index()
        return counts.groupby("cluster")[col].agg(lambda s: tuple(sorted(s)))

    shared_projects = shared(org_project, "project")
    shared_datasets = shared(org_dataset, "dataset")
    clusters = [
        CollaborationCluster(
            organisations=tuple(sorted(grp)),
            projects=shared_projects.get(i, ()),
            datasets=shared_datasets.get(i, ()),
        )
        for i, grp in enumerate(groups)
    ]
    return sorted(clusters, key=lambda c: (-c.size, -len(c.projects), c.organisations))


__all__ = [
    "DATASET",
    "DELIVERED",
    "EDGE_KINDS",
    "INACTIVE",
    "ORG",
    "PROJECT",
    "REJECTED",
    "STATUSES",
    "CollaborationCluster",
    "DependencyCycleError",
    "UnlockResult",
    "blocked_projects",
    "build_graph",
    "collaboration_clusters",
    "dataset_id",
    "find_cycle_path",
    "find_cycles",
    "graph_to_node_link",
    "org_id",
    "project_id",
    "topological_layers",
    "unlock_values",
    "unused_datasets",
    "write_graphml",
]
