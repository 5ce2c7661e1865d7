"""GraphML: the graph of projects, datasets and organisations.

The graph is read straight from the snapshot's rows into the nodes and edges that
`scoring.graph.build_graph` would make of the same tables (its node order, attribute order and
types, edge keys and the adjacency order networkx keeps), then written by the GraphML writer
`build_graph`'s graphs go through: the same bytes, without building a networkx graph and pandas
frames for 100,000 projects (most of the export's time). A test holds the two to the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from portfolio.services.snapshots import (
    SnapshotContent,
    TableData,
)
from scoring import collector
from scoring.graph import DATASET, ORG, PROJECT, write_graphml_items

# Snapshot column -> attribute, in the order build_graph's PROJECT_ATTRS, DATASET_ATTRS and
# LINK_ATTRS give them (organisation and score are the frame's owner and value).
PROJECT_ATTRS = {"status": "status", "score": "value", "mandatory": "mandatory",
                 "cost_gbp": "cost_gbp", "effort_pm": "effort_pm", "theme": "theme",
                 "organisation": "owner", "readiness": "readiness"}
DATASET_ATTRS = {"publisher": "publisher", "drl": "drl", "access": "access",
                 "update_frequency": "update_frequency"}
ORGANISATION_ATTRS = {"kind": "org_kind"}
LINK_ATTRS = {"required": "required", "fit_for_task": "fit", "agreement": "agreement"}
GRAPH_TABLES = ("organisations", "datasets", "projects", "links", "dependencies", "partners")


class _Table:
    """A table's rows with its columns by name, read once."""

    def __init__(self, data: TableData) -> None:
        self.rows = list(data.rows)
        self.at = {name: i for i, name in enumerate(data.columns)}
        self.types = {c.name: c.type for c in data.column_specs()}

    def column(self, name: str) -> list[Any]:
        """Return one column's values."""
        i = self.at[name]
        return [row[i] for row in self.rows]

    def attributes(self, names: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Yield each row's attributes as build_graph's frames give them, nulls left out.

        pandas makes a number column floats, a boolean column booleans and a text column
        text; a null becomes NaN or None, which the writer drops.
        """
        present = [(self.at[c], attr, self.types[c] in ("integer", "number"))
                   for c, attr in names.items() if c in self.at]
        for row in self.rows:
            yield {attr: float(row[i]) if numeric else row[i]
                   for i, attr, numeric in present if row[i] is not None}


def _graph(tables: dict[str, _Table]) -> tuple[list[str], list[dict[str, Any]],
                                               dict[str, dict[str, dict[str, Any]]]]:
    """Return the nodes, their attributes and the adjacency (source -> target -> key -> attrs)."""
    projects = tables["projects"]
    slugs = [str(s) for s in projects.column("slug")]
    known = set(slugs)
    if len(known) != len(slugs):
        seen: set[str] = set()
        twice = {s for s in slugs if s in seen or seen.add(s)}  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate project slugs: {sorted(twice)[:5]}")
    nodes = [PROJECT + s for s in slugs]
    attrs = [{"kind": "project", "slug": s, "label": title or s, **a} for s, title, a in zip(
        slugs, projects.column("title"), projects.attributes(PROJECT_ATTRS), strict=True)]
    datasets = _coded(tables["datasets"], "dataset", DATASET_ATTRS)
    organisations = _coded(tables["organisations"], "organisation", ORGANISATION_ATTRS)
    adjacency: dict[str, dict[str, dict[str, Any]]] = {}

    def edge(u: str, v: str, key: str, data: dict[str, Any]) -> None:
        # A repeated (source, target, key) keeps its place and takes the later attributes.
        try:
            targets = adjacency[u]
        except KeyError:
            targets = adjacency[u] = {}
        try:
            targets[v][key] = data
        except KeyError:
            targets[v] = {key: data}

    # Edges in build_graph's order: dependencies (each pair once, by the projects' places),
    # links, partners, publishers; nodes they name that no table holds are added as met.
    place = {s: i for i, s in enumerate(slugs)}
    deps = tables["dependencies"]
    # Each pair once, ordered by (project's place, prerequisite's place), as one integer.
    width = len(slugs)
    for pair in sorted({place[p] * width + place[q] for p, q in zip(
            map(str, deps.column("project")), map(str, deps.column("depends_on")), strict=True)
            if p in place and q in place}):
        project, prerequisite = divmod(pair, width)
        edge(nodes[project], nodes[prerequisite], "depends_on", {"kind": "depends_on"})
    links = tables["links"]
    for p, d, relation, a in zip(map(str, links.column("project")),
                                 map(str, links.column("dataset")),
                                 map(str, links.column("relation")), links.attributes(LINK_ATTRS),
                                 strict=True):
        if p in known:
            edge(PROJECT + p, DATASET + d, relation, {"kind": relation, **a})
            if d not in datasets:
                datasets[d] = {"kind": "dataset", "code": d, "label": d}
    partners = tables["partners"]
    for p, o, role in zip(map(str, partners.column("project")),
                          map(str, partners.column("organisation")), partners.column("role"),
                          strict=True):
        if p in known:
            key = "partners_in" if role is None else f"partners_in:{role}"
            edge(ORG + o, PROJECT + p, key, {"kind": "partners_in", "role": role})
            if o not in organisations:
                organisations[o] = {"kind": "organisation", "code": o, "label": o}
    for code, a in datasets.items():
        if a.get("publisher"):
            edge(ORG + a["publisher"], DATASET + code, "publishes", {"kind": "publishes"})
            organisations.setdefault(a["publisher"], {"kind": "organisation",
                                                      "code": a["publisher"],
                                                      "label": a["publisher"]})
    for owner in dict.fromkeys(str(o) for o in projects.column("organisation") if o is not None):
        organisations.setdefault(owner, {"kind": "organisation", "code": owner, "label": owner})
    nodes += [DATASET + code for code in datasets] + [ORG + code for code in organisations]
    attrs += [*datasets.values(), *organisations.values()]
    return nodes, attrs, adjacency


def _coded(table: _Table, kind: str, names: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Return dataset or organisation nodes by code, labelled by title or name, else by code."""
    label = "title" if "title" in table.at else "name"
    nodes: dict[str, dict[str, Any]] = {}
    for code, text, a in zip(table.column("code"), table.column(label),
                             table.attributes(names), strict=True):
        nodes[str(code)] = {"kind": kind, "code": str(code), "label": text or str(code), **a}
    return nodes


def _graph_tables(content: SnapshotContent) -> dict[str, _Table]:
    """Read the tables the graph is made of, and stop: the assessments after them are large."""
    tables: dict[str, _Table] = {}
    for data in content.tables():
        if data.spec.name in GRAPH_TABLES:
            tables[data.spec.name] = _Table(data)
            if len(tables) == len(GRAPH_TABLES):
                break
    return tables


def write_graphml(content: SnapshotContent, out: BinaryIO) -> None:
    """Write the snapshot's graph of projects, datasets and organisations as GraphML."""
    with collector.paused():
        tables = _graph_tables(content)
        nodes, attrs, adjacency = _graph(tables)
        del tables
        ends = []
        edge_attrs = []
        # Each source's edges in the order networkx keeps them: by target first reached, then key.
        for node in nodes:
            for target, keyed in adjacency.get(node, {}).items():
                for key, data in keyed.items():
                    ends.append((node, target, key))
                    edge_attrs.append(data)
        write_graphml_items(nodes, attrs, ends, edge_attrs, out)
        # Freed while the collector is paused: resuming it with a million objects still alive
        # would set off a full pass over them.
        del nodes, attrs, adjacency, ends, edge_attrs
