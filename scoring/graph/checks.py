"""Cycles, topological layers and the portfolio checks: unused datasets, blocked projects."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from scoring.graph.arrays import (
    adjacency_lists,
    cycle_in,
    dependency_edges,
    flag,
    floats,
    generations,
    index_pairs,
    isin,
)
from scoring.graph.nodes import DELIVERED, INACTIVE, REJECTED, DependencyCycleError


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
    src, dst = index_pairs(pairs["project"], pairs["depends_on"], labels)
    n = len(labels)
    graph = csr_array((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(component)
    self_loop = np.zeros(n, dtype=bool)
    self_loop[src[src == dst]] = True
    cyclic = (sizes[component] > 1) | self_loop
    if not cyclic.any():
        return []
    adj = adjacency_lists(src, dst, n)
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
    src, dst = dependency_edges(
        None if dependencies is None else dependencies.astype({"project": str, "depends_on": str}),
        index,
    )
    # Edge prerequisite -> dependant, so a layer's members have every prerequisite earlier.
    levels = generations(n, dst, src)
    if levels is None:
        raise DependencyCycleError(cycle_in(n, src, dst, index.to_numpy()))
    # The index is sorted and generations come out in index order, so layers are sorted too.
    names = index.to_numpy(dtype=object)
    return [names[level].tolist() for level in levels]


def project_statuses(projects: pd.DataFrame) -> pd.Series:
    return projects["status"].astype(str).set_axis(projects["slug"].astype(str))


def unused_datasets(
    datasets: pd.DataFrame, links: pd.DataFrame, projects: pd.DataFrame | None = None
) -> list[str]:
    """List dataset codes that no project uses (rejected projects' uses do not count), sorted."""
    used = links
    if "relation" in used.columns:
        used = used[used["relation"].eq("uses")]
    if projects is not None:
        rejected = project_statuses(projects).loc[lambda s: s.eq(REJECTED)].index
        used = used[~isin(used["project"].astype(str), rejected)]
    codes = datasets["code"].astype(str)
    return sorted(codes[~isin(codes, used["dataset"].astype(str))].tolist())


def _link_ready(links: pd.DataFrame) -> np.ndarray:
    if "ready" in links.columns:
        return flag(links, "ready")
    if "readiness" in links.columns:
        return floats(links["readiness"]) >= 1.0
    return np.zeros(len(links), dtype=bool)


def blocking_links(projects: pd.DataFrame, links: pd.DataFrame | None) -> pd.DataFrame:
    """Return (project, dataset) rows: active projects' required uses that are not ready."""
    if links is None or len(links) == 0:
        return pd.DataFrame({"project": [], "dataset": []}, dtype=object)
    mask = flag(links, "required") & ~_link_ready(links)
    if "relation" in links.columns:
        mask &= links["relation"].eq("uses").to_numpy(dtype=bool, na_value=False)
    rows = links.loc[mask, ["project", "dataset"]].astype(str)
    status = project_statuses(projects)
    active = status.index[~isin(status, INACTIVE)]
    return rows[isin(rows["project"], active)].drop_duplicates()


def blocked_projects(
    projects: pd.DataFrame, dependencies: pd.DataFrame | None, links: pd.DataFrame | None
) -> pd.DataFrame:
    """List active projects waiting on an undelivered prerequisite or a required unready link.

    Columns: slug, blocked_by_projects (undelivered prerequisite slugs, rejected ones included),
    blocked_by_datasets (dataset codes), blocked_by_rejected (a prerequisite is rejected).
    """
    status = project_statuses(projects)
    active = status.index[~isin(status, INACTIVE)]
    if dependencies is not None and len(dependencies):
        dep = dependencies[["project", "depends_on"]].astype(str).drop_duplicates()
        dep = dep[isin(dep["project"], active) & isin(dep["depends_on"], status.index)]
        dep_status = status.reindex(dep["depends_on"]).to_numpy()
        dep = dep[dep_status != DELIVERED].assign(
            rejected=status.reindex(dep["depends_on"]).to_numpy()[dep_status != DELIVERED]
            == REJECTED
        )
    else:
        dep = pd.DataFrame({"project": [], "depends_on": [], "rejected": []})
    by_project = dep.sort_values("depends_on").groupby("project")["depends_on"].agg(list)
    by_rejected = dep.groupby("project")["rejected"].any()
    data = blocking_links(projects, links).sort_values("dataset")
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
