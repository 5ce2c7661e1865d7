"""Building the portfolio graph from tables, and writing it as node-link JSON or GraphML."""

from __future__ import annotations

import io
import math
import os
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, BinaryIO, TextIO, cast

import networkx as nx
import numpy as np
import pandas as pd

from scoring import collector
from scoring.graph.arrays import dependency_edges, isin
from scoring.graph.nodes import DATASET, ORG, PROJECT


def _attribute_values(s: pd.Series) -> list[Any]:
    """Return a column's values as its nodes' or edges' attributes hold them."""
    if pd.api.types.is_bool_dtype(s):
        return cast(list[Any], s.to_numpy(dtype=bool, na_value=False).tolist())
    if pd.api.types.is_numeric_dtype(s):
        return cast(list[Any], s.to_numpy(dtype=np.float64, na_value=np.nan).tolist())
    return cast(list[Any], s.astype(object).where(s.notna(), None).tolist())


def _records(df: pd.DataFrame, columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """Turn the present `columns` (source -> attribute) into per-row attribute dicts."""
    cols: dict[str, list[Any]] = {}
    for source, attr in columns.items():
        if source in df.columns:
            cols[attr] = _attribute_values(df[source])
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
    with collector.paused():
        return _build_graph(projects, datasets, organisations, dependencies, links, partners)


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
    src, dst = dependency_edges(dependencies.astype({"project": str, "depends_on": str}), known)
    return [(p, q, "depends_on", {"kind": "depends_on"})
            for p, q in zip(node_ids[src].tolist(), node_ids[dst].tolist(), strict=True)]


def _link_edges(links: pd.DataFrame | None, known: pd.Index,
                ds_nodes: dict[str, dict[str, Any]]) -> list[Edge]:
    """Return projects' uses and products of datasets, adding any dataset not yet a node."""
    if links is None or not len(links):
        return []
    lk = links[isin(links["project"].astype(str), known)]
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
    pt = partners[isin(partners["project"].astype(str), known)]
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


def filtered_project_rows(
    projects: pd.DataFrame,
    *,
    statuses: Iterable[str] | None = None,
    themes: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    datasets: pd.DataFrame | None = None,
    organisations: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    partners: pd.DataFrame | None = None,
) -> np.ndarray | None:
    """Return the project rows whose graph alone gives the filtered node-link elements.

    `graph_to_node_link` of `build_graph` over these rows, with the same filters, equals the
    whole graph's. None when no project filter is given, or when the whole graph is needed:
    slugs repeat, or a project links to a dataset or partners an organisation missing from its
    table (such nodes are placed in the order the whole graph meets them, over every project).
    """
    wanted = {"status": statuses, "theme": themes, "owner": owners}
    if all(allowed is None for allowed in wanted.values()):
        return None
    slugs = pd.Index(projects["slug"].astype(str).to_numpy(dtype=object), dtype=object)
    if (projects["slug"].isna().any() or not slugs.is_unique
            or not _codes_in_tables(slugs, datasets, organisations, links, partners)):
        return None
    # The values the nodes hold, tested in graph_to_node_link's order and stopping at the first
    # that fails, as it does: the filter is its own.
    tests = [(_attribute_values(projects[column]) if column in projects.columns
              else [None] * len(projects), set(allowed))
             for column, allowed in wanted.items() if allowed is not None]
    try:
        return np.fromiter((all(values[i] in chosen for values, chosen in tests)
                            for i in range(len(projects))), dtype=bool, count=len(projects))
    except TypeError:  # an unhashable value: the whole graph meets it, or not, as it does
        return None


def _codes_in_tables(slugs: pd.Index, datasets: pd.DataFrame | None,
                     organisations: pd.DataFrame | None, links: pd.DataFrame | None,
                     partners: pd.DataFrame | None) -> bool:
    """Tell whether every dataset the projects link to, and every partner, is in its table."""
    def named(table: pd.DataFrame | None, column: str, codes: pd.DataFrame | None) -> bool:
        if table is None or not len(table):
            return True
        pool = pd.Index([] if codes is None or not len(codes) else
                        codes["code"].astype(str).tolist(), dtype=object)
        of_projects = table[isin(table["project"].astype(str), slugs)]
        return bool(isin(of_projects[column].astype(str), pool).all())

    return named(links, "dataset", datasets) and named(partners, "organisation", organisations)


# XML 1.0 cannot hold C0 control characters but tab and line breaks: lxml refuses them.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _graphml_scalar(value: Any) -> Any:
    """Return a GraphML-storable scalar, or None to drop the attribute."""
    kind = type(value)  # the common plain types first: this runs once per attribute
    if kind is str:
        return XML_ILLEGAL.sub("", value)
    if kind is float:
        return None if value != value else value  # NaN is the one float unequal to itself
    if kind is bool or kind is int:
        return value
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
    compressed = (isinstance(path_or_buffer, (str, os.PathLike))
                  and str(path_or_buffer).endswith((".gz", ".bz2")))
    if isinstance(path_or_buffer, io.TextIOBase) or compressed or not g.is_directed():
        # networkx's own writers: text, compressed files and undirected graphs are rare here.
        node_attrs = [dict(d) for _, d in g.nodes(data=True)]
        edge_rows = list(g.edges(keys=True, data=True) if g.is_multigraph()
                         else g.edges(data=True))
        edge_attrs = [dict(e[-1]) for e in edge_rows]
        _clean_attrs(node_attrs)
        _clean_attrs(edge_attrs)
        h = _cleaned_copy(g, node_attrs, edge_rows, edge_attrs)
        if isinstance(path_or_buffer, io.TextIOBase):
            path_or_buffer.write("\n".join(nx.generate_graphml(h)))
        else:
            nx.write_graphml(h, path_or_buffer)
        return
    # Read the adjacency as the edge views would give it (node order, then each node's targets
    # and keys in the order they were added), without the views' cost per edge.
    ends: list[tuple[Any, Any, Any]] = []
    edge_attrs = []
    for u, targets in g._succ.items():
        for v, found in targets.items():
            if g.is_multigraph():
                for key, attrs in found.items():
                    ends.append((u, v, key))
                    edge_attrs.append(attrs)
            else:
                ends.append((u, v, None))
                edge_attrs.append(found)
    if isinstance(path_or_buffer, (str, os.PathLike)):
        with open(path_or_buffer, "wb") as out:
            write_graphml_items(list(g._node), list(g._node.values()), ends, edge_attrs, out)
    else:
        write_graphml_items(list(g._node), list(g._node.values()), ends, edge_attrs,
                            cast(BinaryIO, path_or_buffer))


def write_graphml_items(nodes: list[Any], node_attrs: list[dict[str, Any]],
                        ends: list[tuple[Any, Any, Any]], edge_attrs: list[dict[str, Any]],
                        out: BinaryIO) -> None:
    """Write a directed graph given as its nodes and edges (source, target, key or None), in
    the order networkx would iterate them, as `write_graphml` writes it; attributes unchanged.
    """
    with collector.paused():
        out.writelines(_graphml_chunks(nodes, _cleaned(node_attrs), ends, _cleaned(edge_attrs)))


def _cleaned(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, type]]:
    """Return the items as `_clean_attrs` leaves them, text escaped for XML, copying only the
    dicts that change; and each attribute's GraphML type, in the order attributes first occur.
    """
    seen: dict[tuple[str, type], None] = {}
    out = [_cleaned_one(attrs, seen) for attrs in items]
    types: dict[str, set[type]] = {}
    for name, kind in seen:
        types.setdefault(name, set()).add(kind)
    for name, kinds in types.items():
        if len(kinds) > 1:
            # bool is an int subclass in Python but a distinct type in GraphML.
            target: type = float if kinds <= {int, float} else str
            out = [{**attrs, name: target(attrs[name])} if name in attrs else attrs
                   for attrs in out]
    return out, {name: next(iter(kinds)) if len(kinds) == 1 else
                 float if kinds <= {int, float} else str for name, kinds in types.items()}


def _cleaned_one(attrs: dict[str, Any], seen: dict[tuple[str, type], None]) -> dict[str, Any]:
    """Return one item cleaned and escaped value by value, noting each attribute's type."""
    changed: dict[str, Any] | None = None
    for name, value in attrs.items():
        kind = type(value)
        # Plain text, finite floats, ints and booleans stand as they are (most values).
        if not (kind is str and value.isprintable() or kind is float and value == value
                or kind is int or kind is bool):
            value = _graphml_scalar(value)
            if changed is None:
                changed = dict(attrs)
            if value is None:
                del changed[name]
                continue
            changed[name] = value
            kind = type(value)
        # A CR is not printable, so it was met above.
        if kind is str and ("&" in value or "<" in value or ">" in value or "\r" in value):
            if changed is None:
                changed = dict(attrs)
            changed[name] = value.translate(_TEXT_ESCAPES)
        seen[(name, kind)] = None
    return attrs if changed is None else changed


def _cleaned_copy(g: nx.MultiDiGraph | nx.DiGraph, node_attrs: list[dict[str, Any]],
                  edge_rows: list[Any], edge_attrs: list[dict[str, Any]]
                  ) -> nx.MultiDiGraph | nx.DiGraph:
    """Return a copy of the graph holding the cleaned attributes, for networkx's writers."""
    h = g.__class__()
    h.add_nodes_from(zip(list(g.nodes), node_attrs, strict=True))
    h.add_edges_from((*e[:-1], a) for e, a in zip(edge_rows, edge_attrs, strict=True))
    return h


def networkx_graphml(g: nx.MultiDiGraph | nx.DiGraph) -> bytes:
    """Return the GraphML networkx's own lxml writer gives: what write_graphml must match."""
    node_attrs = [dict(d) for _, d in g.nodes(data=True)]
    edge_rows = list(g.edges(keys=True, data=True) if g.is_multigraph() else g.edges(data=True))
    edge_attrs = [dict(e[-1]) for e in edge_rows]
    _clean_attrs(node_attrs)
    _clean_attrs(edge_attrs)
    out = io.BytesIO()
    nx.write_graphml(_cleaned_copy(g, node_attrs, edge_rows, edge_attrs), out)
    return out.getvalue()


# What networkx's lxml writer escapes, so the fast writer below gives the same bytes.
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                                    "\n": "&#10;", "\t": "&#9;", "\r": "&#13;"})
_XML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
_GRAPHML_OPEN = (
    "<?xml version='1.0' encoding='utf-8'?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/"
    "xmlns\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\""
    "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml"
    ".xsd\">"
)
_CHUNK_ITEMS = 5000


def _xml_text(value: Any) -> str:
    """Return a node id, edge key or attribute name as text, refusing what XML cannot hold."""
    text = str(value)
    if XML_ILLEGAL.search(text):
        # As lxml refuses them (attribute values are cleaned before; names and ids are not).
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes "
                         f"or control characters: {text!r}")
    return text.translate(_ATTRIBUTE_ESCAPES)


def _graphml_keys(scope: str, types: dict[str, type], keys: dict[tuple[str, str], str],
                  declared: list[str]) -> None:
    """Give each attribute of a scope its key id, in first-seen order, as networkx does."""
    for name, kind in types.items():
        key = keys[(name, scope)] = f"d{len(keys)}"
        declared.append(f'<key id="{key}" for="{scope}" attr.name="{_xml_text(name)}" '
                        f'attr.type="{_XML_TYPES[kind]}"/>\n')


def graphml_preamble(node_types: dict[str, type], edge_types: dict[str, type]
                     ) -> tuple[bytes, dict[str, dict[str, str]]]:
    """Return a directed graph's GraphML up to its first node, with each scope's attributes
    (in first-seen order, one type each) as the opening tags of their data elements.
    """
    keys: dict[tuple[str, str], str] = {}
    declared: list[str] = []
    _graphml_keys("node", node_types, keys, declared)
    _graphml_keys("edge", edge_types, keys, declared)
    opening = {scope: {name: f'  <data key="{key}">' for (name, where), key in keys.items()
                       if where == scope} for scope in ("node", "edge")}
    return (_GRAPHML_OPEN + "".join(reversed(declared))
            + '<graph edgedefault="directed">').encode(), opening


def graphml_texts(values: list[str | None]) -> list[str | None]:
    """Return text attribute values cleaned and escaped as `_cleaned` leaves them (None stays).

    One check of the whole column first: most columns need nothing done.
    """
    joined = "".join(filter(None, values))
    if joined.isprintable() and _TEXT_SPECIAL.search(joined) is None:
        return values
    return [None if value is None else _cleaned_one({"": value}, {})[""] for value in values]


def graphml_ids(values: list[str]) -> list[str]:
    """Return node ids or edge keys as the writer puts them in attributes (escaped, checked)."""
    joined = "".join(values)
    if _ID_SPECIAL.search(joined) is None and XML_ILLEGAL.search(joined) is None:
        return values
    return [_xml_text(value) for value in values]


_TEXT_SPECIAL = re.compile(r"[&<>\r]")
_ID_SPECIAL = re.compile(r'[&<>"\n\t\r]')


def _graphml_elements(tag: str, heads: Iterable[str], items: list[dict[str, Any]],
                      opening: dict[str, str]) -> Iterator[bytes]:
    """Yield node or edge elements with their data, laid out as networkx's writer does."""
    parts: list[str] = []
    for head, attrs in zip(heads, items, strict=True):
        if attrs:
            # Values are escaped already; str(), as the f-string does, is what lxml is given.
            data = "".join([f"{opening[name]}{value}</data>\n" for name, value in attrs.items()])
            parts.append(f"<{tag} {head}>\n{data}</{tag}>\n")
        else:
            parts.append(f"<{tag} {head}/>\n")
        if len(parts) >= _CHUNK_ITEMS:
            yield "".join(parts).encode()
            parts = []
    yield "".join(parts).encode()


def _graphml_chunks(nodes: list[Any],
                    node_attrs: tuple[list[dict[str, Any]], dict[str, type]],
                    ends: list[tuple[Any, Any, Any]],
                    edge_attrs: tuple[list[dict[str, Any]], dict[str, type]]
                    ) -> Iterator[bytes]:
    """Yield a directed graph as GraphML, the bytes networkx's lxml writer gives, much faster.

    Attributes come cleaned (`_cleaned`): one type per attribute and scope, so one key each.
    """
    preamble, opening = graphml_preamble(node_attrs[1], edge_attrs[1])
    yield preamble
    # Each id is escaped once: edges name their ends again and again.
    ids = {node: _xml_text(node) for node in nodes}
    yield from _graphml_elements("node", (f'id="{ids[node]}"' for node in nodes),
                                 node_attrs[0], opening["node"])
    edge_ids: dict[tuple[type, Any], str] = {}
    text_ids: dict[str, str] = {}

    def edge_heads() -> Iterator[str]:
        for u, v, key in ends:
            if key is None:
                yield f'source="{ids[u]}" target="{ids[v]}"'
                continue
            # By type too: 1 and True are one dict key but write as "1" and "True".
            found = text_ids.get(key) if type(key) is str else edge_ids.get((type(key), key))
            if found is None:
                found = _xml_text(key)
                if type(key) is str:
                    text_ids[key] = found
                else:
                    edge_ids[(type(key), key)] = found
            yield f'source="{ids[u]}" target="{ids[v]}" id="{found}"'

    yield from _graphml_elements("edge", edge_heads(), edge_attrs[0], opening["edge"])
    yield b"</graph></graphml>"
