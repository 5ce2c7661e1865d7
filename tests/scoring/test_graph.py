"""Tests for scoring.graph: construction, cycles, layers, checks, unlock value, exports."""

from __future__ import annotations

import io
import json
import math
from functools import cache

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.graph import (
    DependencyCycleError,
    blocked_projects,
    build_graph,
    collaboration_clusters,
    find_cycle_path,
    find_cycles,
    graph_to_node_link,
    topological_layers,
    unlock_values,
    unused_datasets,
    write_graphml,
)
from scoring.graph.network import XML_ILLEGAL, filtered_project_rows, networkx_graphml

STATUS_CHOICES = ["idea", "proposed", "approved", "in_progress", "delivered", "paused", "rejected"]


def projects_frame(rows: list[tuple[str, str, float]], **extra: list) -> pd.DataFrame:
    """Build a projects table from (slug, status, value) rows."""
    slugs, statuses, values = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame(
        {"slug": list(slugs), "status": list(statuses), "value": list(values), **extra}
    )


def deps_frame(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Build a dependencies table from (project, depends_on) pairs."""
    return pd.DataFrame(pairs, columns=["project", "depends_on"], dtype=object)


def links_frame(rows: list[tuple[str, str, str, bool, bool]]) -> pd.DataFrame:
    """Build a links table from (project, dataset, relation, required, ready) rows."""
    return pd.DataFrame(rows, columns=["project", "dataset", "relation", "required", "ready"])


@st.composite
def portfolios(draw: st.DrawFn, max_projects: int = 12, max_datasets: int = 4) -> tuple:
    """Draw a random portfolio: projects, acyclic dependencies, links and datasets."""
    n = draw(st.integers(1, max_projects))
    slugs = [f"p{i}" for i in draw(st.permutations(range(n)))]
    statuses = draw(st.lists(st.sampled_from(STATUS_CHOICES), min_size=n, max_size=n))
    values = draw(
        st.lists(
            st.one_of(st.just(math.nan), st.floats(0, 100, allow_nan=False)),
            min_size=n,
            max_size=n,
        )
    )
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    # Later positions depend on earlier ones; the slug permutation hides the order.
    deps = sorted({(slugs[max(i, j)], slugs[min(i, j)]) for i, j in pairs if i != j})
    k = draw(st.integers(0, max_datasets))
    codes = [f"d{i}" for i in range(k)]
    links = []
    if k:
        for _ in range(draw(st.integers(0, 3 * n))):
            links.append(
                (
                    draw(st.sampled_from(slugs)),
                    draw(st.sampled_from(codes)),
                    draw(st.sampled_from(["uses", "uses", "produces"])),
                    draw(st.booleans()),
                    draw(st.booleans()),
                )
            )
    datasets = pd.DataFrame(
        {"code": codes, "drl": [draw(st.sampled_from(["C2", "B1"])) for _ in codes]},
        dtype=object,
    )
    return (
        projects_frame(list(zip(slugs, statuses, values, strict=True))),
        deps_frame(deps),
        links_frame(links),
        datasets,
    )


# --- construction ---------------------------------------------------------------------------


def test_build_graph_namespaces_nodes_and_types_edges() -> None:
    projects = projects_frame(
        [("a", "idea", 10.0), ("b", "delivered", math.nan)],
        owner=["GLA", "E09000002"],
        theme=["housing", "transport"],
    )
    datasets = pd.DataFrame({"code": ["x"], "publisher": ["TFL"], "drl": ["C2"]})
    links = links_frame([("a", "x", "uses", True, False), ("b", "y", "produces", False, False)])
    links["agreement"] = ["drafting", "signed"]
    links["fit_for_task"] = ["fit", "partial"]
    partners = pd.DataFrame(
        {
            "project": ["a", "a", "zz"],
            "organisation": ["LOTI", "LOTI", "GLA"],
            "role": ["lead", "funder", "lead"],
        }
    )
    g = build_graph(
        projects,
        datasets,
        dependencies=deps_frame([("a", "b"), ("a", "ghost")]),
        links=links,
        partners=partners,
    )
    assert g.nodes["project:a"]["kind"] == "project"
    assert g.nodes["project:a"]["owner"] == "GLA"
    assert g.nodes["project:a"]["theme"] == "housing"
    assert math.isnan(g.nodes["project:b"]["value"])
    assert g.nodes["dataset:x"]["drl"] == "C2"
    assert g.nodes["dataset:y"]["kind"] == "dataset"  # named only by a link
    assert g.nodes["org:TFL"]["kind"] == "organisation"
    assert g.nodes["org:E09000002"]["kind"] == "organisation"  # an owner
    assert "project:ghost" not in g and "project:zz" not in g
    kinds = sorted(d["kind"] for _, _, d in g.edges(data=True))
    assert kinds == ["depends_on", "partners_in", "partners_in", "produces", "publishes", "uses"]
    uses = g.edges["project:a", "dataset:x", "uses"]
    assert uses["agreement"] == "drafting" and uses["fit"] == "fit" and uses["required"] is True
    roles = {d["role"] for _, _, d in g.out_edges("org:LOTI", data=True)}
    assert roles == {"lead", "funder"}


def test_build_graph_accepts_organisations_table() -> None:
    orgs = pd.DataFrame({"code": ["GLA"], "name": ["Greater London Authority"], "kind": ["gla"]})
    g = build_graph(projects_frame([("a", "idea", 1.0)], owner=["GLA"]), organisations=orgs)
    assert g.nodes["org:GLA"]["label"] == "Greater London Authority"
    assert g.nodes["org:GLA"]["org_kind"] == "gla"
    assert g.nodes["org:GLA"]["kind"] == "organisation"


# --- cycles and layers ----------------------------------------------------------------------


def test_find_cycle_path_names_the_cycle_the_new_edge_closes() -> None:
    edges = deps_frame([("b", "c"), ("c", "a"), ("a", "x")])
    assert find_cycle_path(edges, ("a", "b")) == ["a", "b", "c", "a"]
    assert find_cycle_path(edges, ("x", "b")) == ["x", "b", "c", "a", "x"]
    assert find_cycle_path(edges, ("b", "x")) is None
    assert find_cycle_path(edges, ("d", "d")) == ["d", "d"]


def test_find_cycle_path_accepts_mapping_pairs_and_graph() -> None:
    pairs = [("b", "c"), ("c", "a")]
    assert find_cycle_path({"b": ["c"], "c": ["a"]}, ("a", "b")) == ["a", "b", "c", "a"]
    assert find_cycle_path(pairs, ("a", "b")) == ["a", "b", "c", "a"]
    assert find_cycle_path(nx.DiGraph(pairs), ("a", "b")) == ["a", "b", "c", "a"]
    assert find_cycle_path(pairs, ("b", "a")) is None


@settings(max_examples=80, deadline=None)
@given(portfolios(), st.data())
def test_find_cycle_path_agrees_with_reachability(portfolio: tuple, data: st.DataObject) -> None:
    projects, deps, _, _ = portfolio
    slugs = projects["slug"].tolist()
    p, q = data.draw(st.sampled_from(slugs)), data.draw(st.sampled_from(slugs))
    g = nx.DiGraph(list(deps.itertuples(index=False, name=None)))
    g.add_nodes_from(slugs)
    path = find_cycle_path(deps, (p, q))
    if p == q:
        assert path == [p, p]
        return
    if not nx.has_path(g, q, p):
        assert path is None
        return
    assert path is not None and path[0] == path[-1] == p and path[1] == q
    assert all(g.has_edge(u, v) for u, v in zip(path[1:-1], path[2:], strict=True))
    assert len(path) - 2 == nx.shortest_path_length(g, q, p)


def test_find_cycles_returns_one_cycle_per_group() -> None:
    deps = deps_frame(
        [
            ("a", "b"),
            ("b", "c"),
            ("c", "a"),
            ("c", "b"),
            ("x", "y"),
            ("y", "x"),
            ("z", "z"),
            ("m", "a"),
        ]
    )
    assert find_cycles(deps) == [["a", "b", "c", "a"], ["x", "y", "x"], ["z", "z"]]
    assert find_cycles(deps_frame([("a", "b")])) == []


def test_topological_layers_put_prerequisites_first() -> None:
    deps = deps_frame([("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")])
    assert topological_layers(deps) == [["a"], ["b", "c"], ["d"]]
    assert topological_layers(deps, ["d", "c", "z"]) == [["c", "z"], ["d"]]


def test_topological_layers_raise_on_cycle() -> None:
    with pytest.raises(DependencyCycleError) as err:
        topological_layers(deps_frame([("a", "b"), ("b", "a")]))
    assert err.value.cycle[0] == err.value.cycle[-1]


@settings(max_examples=60, deadline=None)
@given(portfolios())
def test_topological_layers_respect_every_dependency(portfolio: tuple) -> None:
    projects, deps, _, _ = portfolio
    layers = topological_layers(deps, projects["slug"])
    layer_of = {s: i for i, layer in enumerate(layers) for s in layer}
    assert sorted(layer_of) == sorted(projects["slug"])
    for p, q in deps.itertuples(index=False, name=None):
        assert layer_of[q] < layer_of[p]


# --- checks ---------------------------------------------------------------------------------


def test_blocked_projects_names_prerequisites_and_datasets() -> None:
    projects = projects_frame(
        [
            ("a", "idea", 1.0),
            ("b", "delivered", 1.0),
            ("c", "rejected", 1.0),
            ("d", "approved", 1.0),
            ("e", "delivered", 1.0),
        ]
    )
    deps = deps_frame([("a", "b"), ("d", "c"), ("d", "a"), ("e", "a")])
    links = links_frame(
        [
            ("a", "x", "uses", True, False),
            ("a", "y", "uses", False, False),
            ("a", "z", "uses", True, True),
            ("e", "x", "uses", True, False),
        ]
    )
    out = blocked_projects(projects, deps, links).set_index("slug")
    assert sorted(out.index) == ["a", "d"]
    assert out.loc["a", "blocked_by_projects"] == []
    assert out.loc["a", "blocked_by_datasets"] == ["x"]
    assert out.loc["d", "blocked_by_projects"] == ["a", "c"]
    assert bool(out.loc["d", "blocked_by_rejected"])


def test_unused_datasets_ignore_rejected_and_produced() -> None:
    datasets = pd.DataFrame({"code": ["x", "y", "z", "w"]})
    links = links_frame(
        [
            ("a", "x", "uses", True, True),
            ("b", "y", "uses", True, True),
            ("a", "z", "produces", False, False),
        ]
    )
    projects = projects_frame([("a", "idea", 1.0), ("b", "rejected", 1.0)])
    assert unused_datasets(datasets, links, projects) == ["w", "y", "z"]
    assert unused_datasets(datasets, links) == ["w", "z"]


# --- unlock value ---------------------------------------------------------------------------


def test_unlock_chain() -> None:
    projects = projects_frame([("a", "idea", 10.0), ("b", "idea", 20.0), ("c", "idea", 30.0)])
    result = unlock_values(projects, deps_frame([("b", "a"), ("c", "b")]), None)
    assert result.unlock.to_dict() == {"project:a": 50.0, "project:b": 30.0, "project:c": 0.0}
    assert result.blockers()["project:c"] == ["project:b"]
    assert result.unblocks()["project:a"] == ["project:b"]


def test_unlock_diamond_counts_each_value_once() -> None:
    projects = projects_frame(
        [("a", "idea", 0.0), ("b", "idea", 10.0), ("c", "idea", 20.0), ("d", "idea", 40.0)]
    )
    deps = deps_frame([("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")])
    u = unlock_values(projects, deps, None).unlock
    assert u["project:b"] == pytest.approx(20.0)
    assert u["project:c"] == pytest.approx(20.0)
    assert u["project:a"] == pytest.approx(70.0)  # b + c + d, d only once


def test_unlock_shared_dataset_passes_to_its_producer() -> None:
    projects = projects_frame(
        [("p", "idea", 10.0), ("q", "approved", 20.0), ("r", "proposed", 5.0), ("s", "idea", 8.0)]
    )
    links = links_frame(
        [
            ("p", "x", "uses", True, False),
            ("q", "x", "uses", True, False),
            ("q", "y", "uses", True, False),
            ("s", "x", "uses", False, False),
            ("s", "x", "uses", True, True),
            ("r", "x", "produces", False, False),
        ]
    )
    datasets = pd.DataFrame({"code": ["x", "y"], "drl": ["C3", "B1"]})
    u = unlock_values(projects, None, links, datasets).unlock
    # q splits 20 between x and y; p gives x all 10; s's links are optional or ready.
    assert u["dataset:x"] == pytest.approx(20.0)
    assert u["dataset:y"] == pytest.approx(10.0)
    assert u["project:r"] == pytest.approx(20.0)
    assert u["project:s"] == 0.0


def test_unlock_ready_dataset_does_not_wait_on_producer() -> None:
    projects = projects_frame([("p", "idea", 10.0), ("r", "proposed", 5.0)])
    links = links_frame([("p", "x", "uses", True, False), ("r", "x", "produces", False, False)])
    datasets = pd.DataFrame({"code": ["x"], "drl": ["B1"]})
    u = unlock_values(projects, None, links, datasets).unlock
    assert u["dataset:x"] == 10.0 and u["project:r"] == 0.0


def test_unlock_delivered_blocker_blocks_nothing() -> None:
    projects = projects_frame(
        [("a", "delivered", 50.0), ("b", "idea", 10.0), ("c", "idea", math.nan)]
    )
    deps = deps_frame([("b", "a"), ("c", "b")])
    result = unlock_values(projects, deps, None)
    assert result.unlock["project:a"] == 0.0
    assert result.unlock["project:b"] == 0.0  # c's value is NaN: counts as 0
    assert result.blockers()["project:b"] == []


def test_unlock_rejected_prerequisite_absorbs_but_passes_nothing() -> None:
    projects = projects_frame([("a", "idea", 7.0), ("r", "rejected", 99.0), ("b", "idea", 4.0)])
    deps = deps_frame([("r", "a"), ("b", "r")])
    u = unlock_values(projects, deps, None).unlock
    assert u["project:r"] == 4.0
    assert u["project:a"] == 0.0


def test_unlock_breaks_producer_cycles_deterministically() -> None:
    # p waits on x, x waits on its producer q, q waits on p: the x -> q edge is dropped.
    projects = projects_frame([("p", "idea", 10.0), ("q", "idea", 20.0)])
    links = links_frame([("p", "x", "uses", True, False), ("q", "x", "produces", False, False)])
    result = unlock_values(projects, deps_frame([("q", "p")]), links)
    assert result.broken_edges == (("dataset:x", "project:q"),)
    assert result.unlock["dataset:x"] == pytest.approx(30.0)
    assert result.unlock["project:p"] == pytest.approx(20.0)


def test_unlock_raises_on_dependency_cycle() -> None:
    projects = projects_frame([("a", "idea", 1.0), ("b", "idea", 1.0)])
    with pytest.raises(DependencyCycleError):
        unlock_values(projects, deps_frame([("a", "b"), ("b", "a")]), None)


def reference_unlock(
    projects: pd.DataFrame,
    deps: pd.DataFrame,
    links: pd.DataFrame,
    datasets: pd.DataFrame,
    broken: set[tuple[str, str]],
) -> dict[str, float]:
    """Apply the definition literally, one memoised recursion per node."""
    status = dict(zip(projects["slug"], projects["status"], strict=True))
    value = dict(zip(projects["slug"], projects["value"].fillna(0.0), strict=True))
    active = {s for s, st_ in status.items() if st_ not in ("delivered", "rejected")}
    ready_drl = set(datasets.loc[datasets["drl"] == "B1", "code"])
    waits: dict[str, set[str]] = {}
    for p, q in deps.itertuples(index=False, name=None):
        if p in active and status[q] != "delivered":
            waits.setdefault("project:" + p, set()).add("project:" + q)
    for p, d, rel, required, ready in links.itertuples(index=False, name=None):
        if rel == "uses" and required and not ready and p in active:
            waits.setdefault("project:" + p, set()).add("dataset:" + d)
    for p, d, rel, _, _ in links.itertuples(index=False, name=None):
        if rel == "produces" and p in active and d not in ready_drl:
            if ("dataset:" + d, "project:" + p) not in broken:
                waits.setdefault("dataset:" + d, set()).add("project:" + p)
    waiters: dict[str, list[str]] = {}
    for q, bs in waits.items():
        for b in bs:
            waiters.setdefault(b, []).append(q)
    waited = {n for n, _ in waiters.items()}

    def own(n: str) -> float:
        slug = n.removeprefix("project:")
        return value[slug] if n.startswith("project:") and slug in active else 0.0

    @cache
    def unlock(n: str) -> float:
        return sum((own(q) + unlock(q)) / len(waits[q]) for q in waiters.get(n, []))

    return {n: unlock(n) for n in waited}


@settings(max_examples=100, deadline=None)
@given(portfolios())
def test_unlock_matches_definition_and_conserves_value(portfolio: tuple) -> None:
    projects, deps, links, datasets = portfolio
    result = unlock_values(projects, deps, links, datasets)
    unlock = result.unlock
    expected = reference_unlock(projects, deps, links, datasets, set(result.broken_edges))
    for node, u in unlock.items():
        assert u == pytest.approx(expected.get(node, 0.0), abs=1e-9)
    assert (unlock >= 0).all()
    status = projects.set_index("slug")["status"]
    delivered = ["project:" + s for s in status.index[status == "delivered"]]
    assert (unlock[delivered] == 0).all()
    # Every active value ends exactly once on the nodes that wait on nothing.
    active = ~projects["status"].isin(["delivered", "rejected"])
    total = projects.loc[active, "value"].fillna(0.0).sum()
    own = pd.Series(
        projects["value"].fillna(0.0).where(active, 0.0).to_numpy(),
        index="project:" + projects["slug"],
    ).reindex(unlock.index, fill_value=0.0)
    sinks = result.blockers().map(len) == 0
    assert (own[sinks] + unlock[sinks]).sum() == pytest.approx(total, abs=1e-6)


# --- exports --------------------------------------------------------------------------------


def sample_graph() -> nx.MultiDiGraph:
    """Build a small graph with NaN values, booleans and several edge kinds."""
    projects = projects_frame(
        [("a", "idea", 12.5), ("b", "delivered", math.nan), ("c", "proposed", 3.0)],
        owner=["GLA", "GLA", "E09000001"],
        theme=["housing", "transport", "housing"],
        mandatory=[True, False, False],
    )
    datasets = pd.DataFrame({"code": ["x", "y"], "publisher": ["TFL", None], "drl": ["C2", "B1"]})
    links = links_frame([("a", "x", "uses", True, False), ("c", "y", "produces", False, True)])
    links["readiness"] = [0.4, math.nan]
    partners = pd.DataFrame({"project": ["a"], "organisation": ["LOTI"], "role": ["lead"]})
    return build_graph(
        projects,
        datasets,
        dependencies=deps_frame([("a", "b"), ("c", "a")]),
        links=links,
        partners=partners,
    )


GRAPHML_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
GRAPHML_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20),
                          st.floats(), GRAPHML_TEXT, st.lists(GRAPHML_TEXT, max_size=3))
GRAPHML_ATTRS = st.dictionaries(st.sampled_from(["kind", "label", "value", "x y", "a&b"]),
                                GRAPHML_VALUE, max_size=4)


@settings(max_examples=300, deadline=None)
@given(nodes=st.lists(st.tuples(GRAPHML_TEXT, GRAPHML_ATTRS), max_size=6),
       edges=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), GRAPHML_ATTRS),
                      max_size=8),
       multi=st.booleans())
def test_graphml_bytes_are_networkx_own(nodes: list, edges: list, multi: bool) -> None:
    g: nx.MultiDiGraph | nx.DiGraph = nx.MultiDiGraph() if multi else nx.DiGraph()
    for name, attrs in nodes:
        g.add_node(XML_ILLEGAL.sub("", name), **attrs)
    names = list(g.nodes)
    for u, v, attrs in edges if names else []:
        g.add_edge(names[u % len(names)], names[v % len(names)], **attrs)
    out = io.BytesIO()
    write_graphml(g, out)
    assert out.getvalue() == networkx_graphml(g)


def test_graphml_refuses_ids_xml_cannot_hold_and_still_writes_what_networkx_would(
        tmp_path) -> None:
    bad = nx.MultiDiGraph()
    bad.add_node("project:a\x01")
    with pytest.raises(ValueError, match="XML compatible"):
        write_graphml(bad, io.BytesIO())
    undirected = nx.Graph()
    undirected.add_edge("a", "b", kind="x")
    out = io.BytesIO()
    write_graphml(undirected, out)  # type: ignore[arg-type]
    assert b'edgedefault="undirected"' in out.getvalue()
    write_graphml(sample_graph(), tmp_path / "g.graphml.gz")
    assert set(nx.read_graphml(tmp_path / "g.graphml.gz").nodes) == set(sample_graph().nodes)


def test_graphml_of_the_sample_graph_is_networkx_own() -> None:
    out = io.BytesIO()
    write_graphml(sample_graph(), out)
    assert out.getvalue() == networkx_graphml(sample_graph())


@pytest.mark.parametrize("target", ["bytes", "text", "path"])
def test_graphml_round_trips(target: str, tmp_path) -> None:
    g = sample_graph()
    if target == "bytes":
        buf = io.BytesIO()
        write_graphml(g, buf)
        buf.seek(0)
        h = nx.read_graphml(buf)
    elif target == "text":
        buf = io.StringIO()
        write_graphml(g, buf)
        h = nx.read_graphml(io.BytesIO(buf.getvalue().encode()))
    else:
        write_graphml(g, tmp_path / "g.graphml")
        h = nx.read_graphml(tmp_path / "g.graphml")
    assert set(h.nodes) == set(g.nodes)
    assert h.number_of_edges() == g.number_of_edges()
    assert h.nodes["project:a"]["value"] == 12.5
    assert h.nodes["project:a"]["mandatory"] is True
    assert "value" not in h.nodes["project:b"]  # NaN dropped
    assert "publisher" not in h.nodes["dataset:y"]  # None dropped
    kinds = sorted(d["kind"] for _, _, d in h.edges(data=True))
    assert kinds == sorted(d["kind"] for _, _, d in g.edges(data=True))


def test_node_link_is_valid_json_for_cytoscape() -> None:
    out = graph_to_node_link(sample_graph())
    text = json.dumps(out, allow_nan=False)
    assert json.loads(text) == out
    ids = [n["data"]["id"] for n in out["nodes"]]
    assert len(ids) == len(set(ids))
    edge_ids = [e["data"]["id"] for e in out["edges"]]
    assert len(edge_ids) == len(set(edge_ids))
    for e in out["edges"]:
        assert e["data"]["source"] in ids and e["data"]["target"] in ids
        assert e["data"]["kind"] in {"depends_on", "uses", "produces", "partners_in", "publishes"}
    b = next(n["data"] for n in out["nodes"] if n["data"]["id"] == "project:b")
    assert b["value"] is None and b["label"] == "b" and b["kind"] == "project"


def test_node_link_filters() -> None:
    g = sample_graph()
    out = graph_to_node_link(g, themes=["housing"])
    ids = {n["data"]["id"] for n in out["nodes"]}
    assert "project:b" not in ids and {"project:a", "project:c", "dataset:x"} <= ids
    assert "org:TFL" not in ids  # touches no kept project
    only = graph_to_node_link(g, kinds=["project"], edge_kinds=["depends_on"])
    assert {n["data"]["kind"] for n in only["nodes"]} == {"project"}
    assert len(only["edges"]) == 2


# Small portfolios whose codes are mostly in their tables (the filtered build applies) and
# sometimes not (the whole graph is needed): slugs, datasets and organisations from few names.
SLUG = st.sampled_from(["p", "q", "r", "s", "t"])
DATASET_CODE = st.sampled_from(["x", "y", "z"])
ORG_CODE = st.sampled_from(["A", "B", "C"])
STATUS = st.one_of(st.none(), st.sampled_from(["idea", "proposed", "rejected"]))
THEME = st.one_of(st.none(), st.sampled_from(["housing", "health"]))


@st.composite
def filtered_portfolios(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Draw the tables build_graph takes, with a value that may be NaN."""
    slugs = draw(st.lists(SLUG, unique=True, max_size=5))
    projects = pd.DataFrame({
        "slug": slugs,
        "status": [draw(STATUS) for _ in slugs],
        "theme": [draw(THEME) for _ in slugs],
        "owner": [draw(st.one_of(st.none(), ORG_CODE)) for _ in slugs],
        "value": [draw(st.one_of(st.just(math.nan), st.floats(0, 100))) for _ in slugs],
    })
    # Mostly every code, so that the filtered build applies to most examples.
    org_codes = draw(st.one_of(st.just(["C", "A", "B"]), st.lists(ORG_CODE, max_size=3)))
    organisations = pd.DataFrame({"code": org_codes, "name": [c.lower() for c in org_codes]})
    dataset_codes = draw(st.one_of(st.just(["z", "x", "y"]), st.lists(DATASET_CODE,
                                                                     max_size=3)))
    datasets = pd.DataFrame({
        "code": dataset_codes, "title": [c.upper() for c in dataset_codes],
        "publisher": [draw(st.one_of(st.none(), ORG_CODE)) for _ in dataset_codes]})
    links = pd.DataFrame(draw(st.lists(st.tuples(
        SLUG, DATASET_CODE, st.sampled_from(["uses", "produces"]), st.booleans()), max_size=6)),
        columns=["project", "dataset", "relation", "required"])
    partners = pd.DataFrame(draw(st.lists(st.tuples(
        SLUG, ORG_CODE, st.one_of(st.none(), st.sampled_from(["lead", "data"]))), max_size=5)),
        columns=["project", "organisation", "role"])
    dependencies = pd.DataFrame(draw(st.lists(st.tuples(SLUG, SLUG), max_size=6)),
                                columns=["project", "depends_on"])
    return {"projects": projects, "datasets": datasets, "organisations": organisations,
            "links": links, "partners": partners, "dependencies": dependencies}


@settings(max_examples=300, deadline=None)
@given(filtered_portfolios(),
       st.one_of(st.none(), st.lists(st.sampled_from(["idea", "proposed"]), max_size=2)),
       st.one_of(st.none(), st.lists(st.sampled_from(["housing", "health"]), max_size=1)),
       st.one_of(st.none(), st.lists(ORG_CODE, max_size=2)),
       st.one_of(st.none(), st.lists(st.sampled_from(["project", "dataset", "organisation"]),
                                     min_size=1, max_size=2)))
def test_a_filtered_graph_of_the_filtered_rows_is_the_whole_graphs(
        tables: dict[str, pd.DataFrame], statuses: list[str] | None, themes: list[str] | None,
        owners: list[str] | None, kinds: list[str] | None) -> None:
    """Where filtered_project_rows answers, the graph of those rows gives the same elements."""
    from hypothesis import event

    filters = {"statuses": statuses, "themes": themes, "owners": owners}
    projects = tables["projects"]
    rows = filtered_project_rows(projects, **filters, datasets=tables["datasets"],
                                 organisations=tables["organisations"], links=tables["links"],
                                 partners=tables["partners"])
    others = {k: v for k, v in tables.items() if k not in ("projects", "datasets")}
    # The whole graph is needed exactly when a project links to a dataset, or is partnered by
    # an organisation, missing from its table (their nodes' order is the whole graph's).
    known = set(projects["slug"])
    missing = any(
        project in known and code not in set(tables[table]["code"])
        for name, table, column in (("links", "datasets", "dataset"),
                                    ("partners", "organisations", "organisation"))
        for project, code in zip(tables[name]["project"], tables[name][column], strict=True))
    assert (rows is None) == (missing or all(f is None for f in filters.values()))
    if rows is None:
        event("the whole graph")
        return
    event("filtered rows")
    whole = graph_to_node_link(build_graph(projects, tables["datasets"], **others),
                               kinds=kinds, **filters)
    part = graph_to_node_link(build_graph(projects[rows], tables["datasets"], **others),
                              kinds=kinds, **filters)
    assert json.dumps(part, allow_nan=True) == json.dumps(whole, allow_nan=True)
    if kinds is None or "project" in kinds:  # and no more rows than the projects shown
        shown = [n["data"]["slug"] for n in whole["nodes"] if n["data"]["kind"] == "project"]
        assert projects["slug"][rows].tolist() == shown


def test_filtered_rows_need_a_project_filter_and_codes_in_their_tables() -> None:
    """No filter, or a link to a dataset missing from its table, needs the whole graph."""
    projects = projects_frame([("a", "idea", 1.0), ("b", "proposed", 2.0)])
    datasets = pd.DataFrame({"code": ["x"]})
    assert filtered_project_rows(projects, datasets=datasets) is None
    rows = filtered_project_rows(projects, statuses=["idea"], datasets=datasets)
    assert rows is not None and rows.tolist() == [True, False]
    links = links_frame([("b", "unknown", "uses", True, True)])
    assert filtered_project_rows(projects, statuses=["idea"], datasets=datasets,
                                 links=links) is None


def test_partners_missing_from_their_table_are_placed_as_the_whole_graph_meets_them() -> None:
    """The organisations' like the datasets': the kept rows alone would meet them in turn."""
    projects = projects_frame([("p", "idea", 1.0), ("q", "proposed", 2.0)])
    partners = pd.DataFrame({"project": ["q", "p", "p"], "organisation": ["A", "C", "A"],
                             "role": [None, None, None]})
    whole = graph_to_node_link(build_graph(projects, partners=partners), statuses=["idea"])
    part = graph_to_node_link(build_graph(projects[projects["status"] == "idea"],
                                          partners=partners), statuses=["idea"])
    ids = [[n["data"]["id"] for n in out["nodes"]] for out in (whole, part)]
    assert ids == [["project:p", "org:A", "org:C"], ["project:p", "org:C", "org:A"]]
    assert filtered_project_rows(projects, statuses=["idea"], partners=partners) is None


def test_datasets_missing_from_their_table_are_placed_as_the_whole_graph_meets_them() -> None:
    """Why filtered_project_rows needs the whole graph then: the kept rows meet them otherwise."""
    projects = projects_frame([("p", "idea", 1.0), ("q", "proposed", 2.0)])
    links = links_frame([("q", "x", "uses", True, True), ("p", "y", "uses", True, True),
                         ("p", "x", "uses", True, True)])
    whole = graph_to_node_link(build_graph(projects, links=links), statuses=["idea"])
    part = graph_to_node_link(build_graph(projects[projects["status"] == "idea"], links=links),
                              statuses=["idea"])
    ids = [[n["data"]["id"] for n in out["nodes"]] for out in (whole, part)]
    assert ids == [["project:p", "dataset:x", "dataset:y"],
                   ["project:p", "dataset:y", "dataset:x"]]
    assert filtered_project_rows(projects, statuses=["idea"], links=links) is None


# --- collaboration clusters -----------------------------------------------------------------


def test_collaboration_clusters_join_partners_and_dataset_publishers() -> None:
    projects = projects_frame(
        [("p1", "idea", 1.0), ("p2", "idea", 1.0), ("p3", "idea", 1.0), ("p4", "rejected", 1.0)],
        owner=["A", "C", "E", "E"],
    )
    partners = pd.DataFrame(
        {"project": ["p1", "p2", "p4"], "organisation": ["B", "D", "F"], "role": ["partner"] * 3}
    )
    links = links_frame([("p3", "x", "uses", True, True)])
    datasets = pd.DataFrame({"code": ["x"], "publisher": ["A"]})
    clusters = collaboration_clusters(partners, projects, links, datasets)
    assert [c.organisations for c in clusters] == [("A", "B", "E"), ("C", "D")]
    assert clusters[0].projects == ("p1",)
    assert clusters[0].datasets == ("x",)
    assert clusters[1].projects == ("p2",)


def test_collaboration_clusters_split_large_components_reproducibly() -> None:
    rng = np.random.default_rng(3)
    rows = []
    # Two dense groups of 10 joined by one shared project.
    for g in range(2):
        orgs = [f"g{g}o{i}" for i in range(10)]
        for k in range(30):
            a, b = rng.choice(orgs, 2, replace=False)
            rows.append((f"g{g}p{k}", a, b))
    rows.append(("bridge", "g0o0", "g1o0"))
    projects = projects_frame([(p, "idea", 1.0) for p, _, _ in rows], owner=[a for _, a, _ in rows])
    partners = pd.DataFrame(
        {
            "project": [p for p, _, _ in rows],
            "organisation": [b for _, _, b in rows],
            "role": "partner",
        }
    )
    first = collaboration_clusters(partners, projects, split_above=12)
    again = collaboration_clusters(partners, projects, split_above=12)
    assert first == again
    assert len(first) >= 2
    assert sum(c.size for c in first) == 20
    assert all(len({o[:2] for o in c.organisations}) == 1 for c in first)
