"""Synthetic portfolios: deterministic, acyclic, loaded once."""

from __future__ import annotations

import networkx as nx
from sqlmodel import func, select

from portfolio.db import Database
from portfolio.models import Organisation, Project, ProjectDependency
from seeds.synthetic import seed_synthetic


def snapshot(db: Database) -> tuple[list, list]:
    with db.read() as session:
        projects = session.exec(
            select(Project.slug, Project.status, Project.cost_gbp).order_by(Project.slug)
        ).all()
        edges = session.exec(
            select(ProjectDependency.project_id, ProjectDependency.depends_on_id)
        ).all()
    return list(projects), sorted(edges)


def test_synthetic_portfolio_has_the_requested_size_and_an_acyclic_graph(db: Database) -> None:
    with db.write() as session:
        seed_synthetic(session, projects=600, seed=3)
    projects, edges = snapshot(db)
    assert len(projects) == 600
    assert 0.8 * 600 < len(edges) < 1.6 * 600
    assert nx.is_directed_acyclic_graph(nx.DiGraph(edges))
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Organisation)).one() >= 20


def test_synthetic_portfolio_is_the_same_for_the_same_seed(db: Database, tmp_path) -> None:
    from portfolio.db import Database as Db
    from portfolio.settings import Settings
    from tests.conftest import make_engine, migrate

    with db.write() as session:
        seed_synthetic(session, projects=200, seed=7)
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    engine = make_engine(other_url)
    migrate.upgrade(engine)
    engine.dispose()
    other = Db(Settings(database_url=other_url))
    with other.write() as session:
        seed_synthetic(session, projects=200, seed=7)
    assert snapshot(db)[0] == snapshot(other)[0]
    other.dispose()


def test_seeding_synthetic_twice_adds_nothing(db: Database) -> None:
    with db.write() as session:
        seed_synthetic(session, projects=100, seed=1)
    with db.write() as session:
        report = seed_synthetic(session, projects=100, seed=1)
    assert report.added.get("project", 0) == 0
    assert len(snapshot(db)[0]) == 100
