"""The portfolio network: its graph as JSON and GraphML, and collaboration clusters."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlmodel import Session

from portfolio.db import Database
from portfolio.services.common import consistent_read
from portfolio.services.planning import run_figures
from portfolio.services.ranking import (
    PortfolioFrames,
    RunInfo,
    ensure_ranking,
    portfolio_frames,
)
from portfolio.services.snapshots.writer import exported_figures
from scoring import collector
from scoring.graph import build_graph, collaboration_clusters, graph_to_node_link, write_graphml
from scoring.graph.network import filtered_project_rows
from scoring.rounding import SCORE_DECIMALS, shown_score


def portfolio_graph(db: Database, *, profile: str | None = None):
    """Return the graph of projects, datasets and organisations, built once per revision."""
    return _whole_graph(db, ensure_ranking(db, profile,
                                           wait_seconds=db.settings.ranking_wait_seconds))


def _whole_graph(db: Database, run: RunInfo):
    """Return the graph of a run, built once per run by this process."""
    found = db.run_memo.get(("graph", run.id))
    if found is None:
        # Concurrent first calls share one build (about 10 s at 100,000 projects).
        build = db.background.submit(("graph", run.id), lambda: _build_portfolio_graph(db, run))
        found = db.run_memo.put_latest(("graph", run.id), build.result())
    return found


def _build_portfolio_graph(db: Database, run: RunInfo):
    """Build the graph of projects, datasets and organisations with a run's values."""
    # Hundreds of thousands of attribute dicts: the collector's passes over them made a build
    # at 100,000 projects 1.7 s against 1.25 s paused once, and cost nothing another time.
    with collector.paused():
        with db.read() as session:
            consistent_read(session)
            frames = portfolio_frames(db, session)
            projects = _with_run_values(frames.projects, _run_values(db, session, run))
        return _graph_of(projects, frames)


def _run_values(db: Database, session: Session, run: RunInfo) -> pd.DataFrame:
    """Return projects' value and readiness (0-100) in a run, as a snapshot holds them."""
    # Kept per run: every graph built from the run reads them.
    key = ("graph values", run.id)
    found = db.run_memo.get(key)
    if found is None:
        found = db.run_memo.put_latest(key, exported_figures(run_figures(session, run)))
    return found


def _with_run_values(projects: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """Return the projects with their value and readiness in a run."""
    slugs = projects["slug"]
    return projects.assign(value=values["value"].reindex(slugs).to_numpy(),
                           readiness=values["readiness"].reindex(slugs).to_numpy())


def _graph_of(projects: pd.DataFrame, frames: PortfolioFrames):
    """Build the graph of these projects with the portfolio's other tables."""
    return build_graph(projects, frames.datasets, organisations=frames.organisations,
                       dependencies=frames.dependencies, links=frames.links,
                       partners=frames.partners)


def graph_json(
    db: Database, *, kinds: Sequence[str] = (), organisation: str | None = None,
    theme: str | None = None, status: str | None = None,
) -> dict[str, Any]:
    """Return the graph as node-link JSON (cytoscape elements), filtered.

    With a project filter and no whole graph kept, the graph is built from the projects the
    filter keeps (the same elements as the whole graph's) and not kept: a theme of 100,000
    projects takes 0.4 s, where the whole graph took 3 s to build and 300 MB to keep.
    Otherwise the whole graph is kept per run.
    """
    filters = {"owners": [organisation] if organisation else None,
               "themes": [theme] if theme else None, "statuses": [status] if status else None}
    run = ensure_ranking(db, wait_seconds=db.settings.ranking_wait_seconds)
    graph = db.run_memo.get(("graph", run.id))
    if graph is None and any(chosen is not None for chosen in filters.values()):
        graph = _filtered_graph(db, run, filters)
    if graph is None:
        graph = _whole_graph(db, run)
    return _shown(graph_to_node_link(graph, kinds=kinds or None, **filters))


def _shown(elements: dict[str, Any]) -> dict[str, Any]:
    """Return node-link elements with projects' value and readiness as the API shows them."""
    # DESIGN.md, "Rounding": the score's rule and `round`, both at 2 places, as the backlog.
    for node in elements["nodes"]:
        data = node["data"]
        if data.get("kind") == "project":
            data["value"] = shown_score(data.get("value"))
            readiness = data.get("readiness")
            data["readiness"] = None if readiness is None else round(readiness, SCORE_DECIMALS)
    return elements


def _filtered_graph(db: Database, run: RunInfo, filters: dict[str, Any]):
    """Build the graph of the projects a filter keeps, or None where the whole one is needed."""
    with db.read() as session:
        consistent_read(session)
        frames = portfolio_frames(db, session)
        rows = filtered_project_rows(
            frames.projects, **filters, datasets=frames.datasets,
            organisations=frames.organisations, links=frames.links, partners=frames.partners)
        if rows is None:
            return None
        projects = _with_run_values(frames.projects[rows], _run_values(db, session, run))
    return _graph_of(projects, frames)


def graphml(db: Database) -> bytes:
    """Return the graph as GraphML (readable by networkx and Gephi)."""
    buffer = io.BytesIO()
    write_graphml(portfolio_graph(db), buffer)
    return buffer.getvalue()


def clusters(db: Database) -> list[dict[str, Any]]:
    """Return groups of organisations that share projects or datasets, largest first."""
    with db.read() as session:
        consistent_read(session)
        frames = portfolio_frames(db, session)
    found = collaboration_clusters(frames.partners, frames.projects.rename(
        columns={"owner": "owner"}), frames.links, frames.datasets)
    names = dict(zip(frames.organisations["code"], frames.organisations["name"], strict=True))
    return [
        {"organisations": [{"code": c, "name": names.get(c, c)} for c in cluster.organisations],
         "projects": list(cluster.projects), "datasets": list(cluster.datasets)}
        for cluster in found
    ]
