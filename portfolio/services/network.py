"""The portfolio network: its graph as JSON and GraphML, and collaboration clusters."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlmodel import col

from portfolio.db import Database
from portfolio.models import Project, RankingRow
from portfolio.services.common import consistent_read
from portfolio.services.planning import project_values
from portfolio.services.ranking import RunInfo, ensure_ranking, portfolio_frames
from scoring.graph import build_graph, collaboration_clusters, graph_to_node_link, write_graphml


def portfolio_graph(db: Database, *, profile: str | None = None):
    """Return the graph of projects, datasets and organisations, built once per revision."""
    run = ensure_ranking(db, profile, wait_seconds=db.settings.ranking_wait_seconds)
    found = db.run_memo.get(("graph", run.id))
    if found is None:
        # Concurrent first calls share one build (about 10 s at 100,000 projects).
        build = db.background.submit(("graph", run.id), lambda: _build_portfolio_graph(db, run))
        found = db.run_memo.put_latest(("graph", run.id), build.result())
    return found


def _build_portfolio_graph(db: Database, run: RunInfo):
    """Build the graph of projects, datasets and organisations with a run's values."""
    with db.read() as session:
        consistent_read(session)
        frames = portfolio_frames(db, session)
        values = project_values(session, run)
        readiness = pd.Series(dict(session.execute(
            select(col(Project.slug), col(RankingRow.readiness))
            .join(RankingRow, col(RankingRow.project_id) == col(Project.id))
            .where(col(RankingRow.run_id) == run.id)).all()), dtype=float)
    slugs = frames.projects["slug"]
    projects = frames.projects.assign(value=values.reindex(slugs).to_numpy(),
                                      readiness=(readiness.reindex(slugs) / 100.0).to_numpy())
    return build_graph(projects, frames.datasets, organisations=frames.organisations,
                       dependencies=frames.dependencies, links=frames.links,
                       partners=frames.partners)


def graph_json(
    db: Database, *, kinds: Sequence[str] = (), organisation: str | None = None,
    theme: str | None = None, status: str | None = None,
) -> dict[str, Any]:
    """Return the graph as node-link JSON (cytoscape elements), filtered."""
    graph = portfolio_graph(db)
    return graph_to_node_link(
        graph, kinds=kinds or None, owners=[organisation] if organisation else None,
        themes=[theme] if theme else None, statuses=[status] if status else None,
    )


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
