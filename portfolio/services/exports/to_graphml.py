"""GraphML: the graph of projects, datasets and organisations.

The graph is read straight from the snapshot's rows into the nodes and edges that
`scoring.graph.build_graph` would make of the same tables (its node order, attribute order and
types, edge keys and the adjacency order networkx keeps), and written as `build_graph`'s graphs
are: the same bytes, without building a networkx graph and pandas frames for 100,000 projects.
The projects' data are written column by column (a text column is checked once as a whole);
edges carry few distinct attribute sets, each written once. A test holds both to the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any, BinaryIO

from portfolio.services.snapshots import (
    SnapshotContent,
    TableData,
)
from scoring import collector
from scoring.graph import DATASET, ORG, PROJECT
from scoring.graph.network import graphml_ids, graphml_preamble, graphml_texts

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
CHUNK_ITEMS = 5000
# The GraphML type of each snapshot column type (pandas reads numbers as floats).
KINDS = {"integer": float, "number": float, "boolean": bool, "string": str}

# An attribute: its name, its type and its value on each node of a group (None: absent).
Field = tuple[str, type, list[Any]]


class _Table:
    """A table's rows with its columns by name, read once."""

    def __init__(self, data: TableData) -> None:
        self.name = data.spec.name
        self.rows = list(data.rows)
        self.at = {name: i for i, name in enumerate(data.columns)}
        self.types = {c.name: c.type for c in data.column_specs()}

    def column(self, name: str) -> list[Any]:
        """Return one column's values."""
        return list(map(itemgetter(self.at[name]), self.rows))

    def fields(self, names: dict[str, str]) -> list[Field]:
        """Return the named columns present as attributes, valued as build_graph's frames hold
        them: numbers as floats (NaN absent), text as text, booleans as booleans; not escaped.
        """
        return [(attr, KINDS.get(self.types[c], str), self.values(c))
                for c, attr in names.items() if c in self.at]

    def values(self, name: str) -> list[Any]:
        """Return a column's values as attribute values, refusing one of another type."""
        values = self.column(name)
        kind = KINDS.get(self.types[name], str)
        if kind is float:
            return [None if v is None or v != v else float(v) for v in values]
        if not set(map(type, values)) <= {kind, type(None)}:
            raise ValueError(f"{self.name}.{name} holds a value that is not {kind.__name__}")
        return values


def _project_fields(projects: _Table) -> tuple[list[str], list[Field]]:
    """Return the project slugs and the project nodes' attributes, column by column."""
    slugs = [str(s) for s in projects.column("slug")]
    if len(set(slugs)) != len(slugs):
        seen: set[str] = set()
        twice = {s for s in slugs if s in seen or seen.add(s)}  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate project slugs: {sorted(twice)[:5]}")
    labels = [title or slug for slug, title in zip(slugs, projects.column("title"), strict=True)]
    return slugs, [("kind", str, ["project"] * len(slugs)), ("slug", str, slugs),
                   ("label", str, labels), *projects.fields(PROJECT_ATTRS)]


class _Coded:
    """Dataset or organisation nodes by code: label and attributes, in first-met order."""

    def __init__(self, table: _Table, kind: str, names: dict[str, str]) -> None:
        self.kind = kind
        self.fields = table.fields(names)
        labels = table.column("title" if "title" in table.at else "name")
        self.rows: dict[str, list[Any]] = {}
        for i, (code, label) in enumerate(zip(map(str, table.column("code")), labels,
                                              strict=True)):
            # A code met again keeps its place and takes the later row, as a dict update does.
            self.rows[code] = [label or code, *(values[i] for _, _, values in self.fields)]

    def add(self, code: str) -> None:
        """Add a node a link, partner or owner names that the table does not hold."""
        if code not in self.rows:
            self.rows[code] = [code, *(None for _ in self.fields)]

    def node_fields(self) -> list[Field]:
        codes = list(self.rows)
        columns = list(zip(*self.rows.values(), strict=True)) or [() for _ in range(
            1 + len(self.fields))]
        return [("kind", str, [self.kind] * len(codes)), ("code", str, codes),
                ("label", str, list(columns[0])),
                *((name, kind, list(column)) for (name, kind, _), column in zip(
                    self.fields, columns[1:], strict=True))]


class _Edges:
    """Edges by source, target and key in the order networkx keeps them, each with a form: its
    attribute set, numbered in the order first met.
    """

    def __init__(self) -> None:
        self.adjacency: dict[str, dict[str, dict[str, int]]] = {}
        self.forms: dict[tuple[tuple[str, Any], ...], int] = {}
        self.keys: dict[str, str] = {}

    def form(self, attrs: tuple[tuple[str, Any], ...]) -> int:
        found = self.forms.get(attrs)
        if found is None:
            found = self.forms[attrs] = len(self.forms)
        return found

    def key(self, key: str) -> str:
        """Return an edge key as written (escaped once, refused if XML cannot hold it)."""
        found = self.keys.get(key)
        if found is None:
            found = self.keys[key] = graphml_ids([key])[0]
        return found

    def add(self, u: str, v: str, key: str, form: int) -> None:
        """Add an edge by its key as written; a repeated (source, target, key) keeps its place
        and takes the later attributes.
        """
        try:
            targets = self.adjacency[u]
        except KeyError:
            targets = self.adjacency[u] = {}
        try:
            targets[v][key] = form
        except KeyError:
            targets[v] = {key: form}


def _graph(tables: dict[str, _Table]) -> tuple[list[tuple[list[str], list[Field]]], _Edges]:
    """Return the node groups (ids and attributes) and the edges, in build_graph's order."""
    projects = tables["projects"]
    slugs, project_fields = _project_fields(projects)
    known = set(slugs)
    datasets = _Coded(tables["datasets"], "dataset", DATASET_ATTRS)
    organisations = _Coded(tables["organisations"], "organisation", ORGANISATION_ATTRS)
    edges = _Edges()
    # Edges in build_graph's order: dependencies (each pair once, by the projects' places),
    # links, partners, publishers; nodes they name that no table holds are added as met.
    place = {s: i for i, s in enumerate(slugs)}
    nodes = [PROJECT + s for s in slugs]
    deps = tables["dependencies"]
    width = len(slugs)
    depends_on = edges.form((("kind", "depends_on"),))
    adjacency = edges.adjacency
    # The first edges, each pair once: none is repeated, so each goes straight in.
    for pair in sorted({place[p] * width + place[q] for p, q in zip(
            map(str, deps.column("project")), map(str, deps.column("depends_on")), strict=True)
            if p in place and q in place}):
        project, prerequisite = divmod(pair, width)
        targets = adjacency.get(nodes[project])
        if targets is None:
            targets = adjacency[nodes[project]] = {}
        targets[nodes[prerequisite]] = {"depends_on": depends_on}
    _link_edges(tables["links"], known, datasets, edges)
    partners = tables["partners"]
    for p, o, role in zip(map(str, partners.column("project")),
                          map(str, partners.column("organisation")), partners.column("role"),
                          strict=True):
        if p in known:
            key = edges.key("partners_in" if role is None else f"partners_in:{role}")
            edges.add(ORG + o, PROJECT + p, key, edges.form(
                (("kind", "partners_in"), ("role", role))))
            organisations.add(o)
    publishes = edges.form((("kind", "publishes"),))
    named = [name for name, _, _ in datasets.fields]
    at_publisher = named.index("publisher") + 1 if "publisher" in named else None
    for code, row in datasets.rows.items():
        publisher = row[at_publisher] if at_publisher is not None else None
        if publisher:
            edges.add(ORG + publisher, DATASET + code, "publishes", publishes)
            organisations.add(publisher)
    for owner in dict.fromkeys(str(o) for o in projects.column("organisation") if o is not None):
        organisations.add(owner)
    return [(nodes, project_fields),
            ([DATASET + c for c in datasets.rows], datasets.node_fields()),
            ([ORG + c for c in organisations.rows], organisations.node_fields())], edges


def _link_edges(links: _Table, known: set[str], datasets: _Coded, edges: _Edges) -> None:
    """Add the links' edges (project -> dataset, keyed by relation) and the datasets they name."""
    attrs = [(a, links.column(c)) for c, a in LINK_ATTRS.items() if c in links.at]
    names = [a for a, _ in attrs]
    forms: dict[tuple[Any, ...], tuple[str, int]] = {}
    add = edges.add
    for p, d, relation, *values in zip(map(str, links.column("project")),
                                       map(str, links.column("dataset")),
                                       map(str, links.column("relation")),
                                       *(column for _, column in attrs), strict=True):
        if p not in known:
            continue
        found = forms.get((relation, *values))
        if found is None:
            found = forms[(relation, *values)] = (edges.key(relation), edges.form(
                (("kind", relation), *zip(names, values, strict=True))))
        add(PROJECT + p, DATASET + d, *found)
        datasets.add(d)


def _first_seen(groups: list[list[Field]]) -> dict[str, type]:
    """Return each attribute's type in the order a pass over the items would first meet it."""
    met: list[tuple[int, int, str, type]] = []
    offset = 0
    for fields in groups:
        for position, (name, kind, values) in enumerate(fields):
            first = next((i for i, v in enumerate(values) if v is not None), None)
            if first is not None:
                met.append((offset + first, position, name, kind))
        offset += len(fields[0][2]) if fields else 0
    types: dict[str, type] = {}
    for _, _, name, kind in sorted(met):
        if types.setdefault(name, kind) is not kind:
            raise ValueError(f"attribute {name} holds both {types[name]} and {kind} values")
    return types


def _cleaned_forms(forms: dict[tuple[tuple[str, Any], ...], int]) -> list[list[tuple[str, Any]]]:
    """Return each edge form's attributes cleaned and escaped, nulls left out."""
    cleaned: list[list[tuple[str, Any]]] = [[] for _ in forms]
    for attrs, number in forms.items():
        present = [(name, value) for name, value in attrs if value is not None]
        texts = graphml_texts([value if type(value) is str else None for _, value in present])
        cleaned[number] = [(name, text if type(value) is str else value) for (name, value), text
                           in zip(present, texts, strict=True)]
    return cleaned


def _graph_tables(content: SnapshotContent) -> dict[str, _Table]:
    """Read the tables the graph is made of, and stop: the assessments after them are large."""
    tables: dict[str, _Table] = {}
    for data in content.tables():
        if data.spec.name in GRAPH_TABLES:
            tables[data.spec.name] = _Table(data)
            if len(tables) == len(GRAPH_TABLES):
                break
    return tables


def _node_elements(groups: list[tuple[list[str], list[Field]]], ids: dict[str, str],
                   opening: dict[str, str]) -> Iterator[bytes]:
    """Yield the node elements, group by group, their data written column by column."""
    for nodes, fields in groups:
        pieces = []
        for name, kind, values in fields:
            tag = opening.get(name)
            if tag is None:
                continue  # absent from every node
            if kind is str:
                values = graphml_texts(values)
            pieces.append([f"{tag}{v}</data>\n" if v is not None else "" for v in values])
        data = map("".join, zip(*pieces, strict=True))
        texts = [f'<node id="{ids[node]}">\n{text}</node>\n'
                 for node, text in zip(nodes, data, strict=True)]
        for start in range(0, len(texts), CHUNK_ITEMS):
            yield "".join(texts[start:start + CHUNK_ITEMS]).encode()


def _edge_heads(nodes: list[str], ids: dict[str, str], edges: _Edges
                ) -> tuple[list[str], list[int]]:
    """Return each edge's element up to its key, and its form: each source's edges by target
    first reached, then by key, as networkx keeps them.
    """
    heads: list[str] = []
    forms: list[int] = []
    adjacency = edges.adjacency
    for node in nodes:
        targets = adjacency.get(node)
        if not targets:
            continue
        source = f'<edge source="{ids[node]}" target="'
        for target, keyed in targets.items():
            head = f'{source}{ids[target]}" id="'
            for key, form in keyed.items():
                heads.append(head + key)
                forms.append(form)
    return heads, forms


def _edge_types(cleaned: list[list[tuple[str, Any]]], used: Iterable[int]) -> dict[str, type]:
    """Return each edge attribute's type in the order the written edges first meet it."""
    types: dict[str, type] = {}
    for form in used:
        for name, value in cleaned[form]:
            if types.setdefault(name, type(value)) is not type(value):
                raise ValueError(f"edge attribute {name} holds values of two types")
    return types


def _edge_elements(heads: list[str], forms: list[int], texts: dict[int, str]
                   ) -> Iterator[bytes]:
    """Yield the edge elements from their heads and their forms' data."""
    tails = {form: f'">\n{text}</edge>\n' for form, text in texts.items()}
    for start in range(0, len(heads), CHUNK_ITEMS):
        yield "".join([head + tails[form] for head, form in zip(
            heads[start:start + CHUNK_ITEMS], forms[start:start + CHUNK_ITEMS],
            strict=True)]).encode()


def write_graphml(content: SnapshotContent, out: BinaryIO) -> None:
    """Write the snapshot's graph of projects, datasets and organisations as GraphML."""
    with collector.paused():
        tables = _graph_tables(content)
        groups, edges = _graph(tables)
        del tables
        nodes = [node for ids, _ in groups for node in ids]
        node_types = _first_seen([fields for _, fields in groups])
        ids = dict(zip(nodes, graphml_ids(nodes), strict=True))
        heads, forms = _edge_heads(nodes, ids, edges)
        cleaned = _cleaned_forms(edges.forms)
        del edges
        # In the order the written edges first meet them (an overwritten edge's form may not be).
        used = list(dict.fromkeys(forms))
        preamble, opening = graphml_preamble(node_types, _edge_types(cleaned, used))
        texts = {form: "".join(f"{opening['edge'][name]}{value}</data>\n"
                               for name, value in cleaned[form]) for form in used}
        out.write(preamble)
        out.writelines(_node_elements(groups, ids, opening["node"]))
        out.writelines(_edge_elements(heads, forms, texts))
        out.write(b"</graph></graphml>")
        # Freed while the collector is paused: resuming it with a million objects still alive
        # would set off a full pass over them.
        del groups, nodes, ids, heads, forms
