"""Several assessors: reading the levels, and robustness over weights and assessments.

On a synthetic portfolio (SQLite), measured in the same run:
- reading the levels that score (each assessor's newest level, then their median) against the
  former read (the newest level per project and criterion, whoever gave it);
- the same after a second assessor disagrees on 10% of the assessed cells;
- the order's robustness with assessment uncertainty against weights alone.

    .venv/bin/python bench/bench_assessors.py [--projects 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bench.common import fresh_database, prepare_database  # noqa: E402
from portfolio.db import Database  # noqa: E402
from portfolio.models import Assessment, Criterion, Project  # noqa: E402
from portfolio.services import frames  # noqa: E402
from portfolio.settings import Settings  # noqa: E402
from scoring.ranking import ordered_with_structure  # noqa: E402
from scoring.robustness import order_robustness  # noqa: E402


def former_levels(session) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The read before several assessors: newest level per project and criterion."""
    latest = (select(func.max(Assessment.id))
              .group_by(Assessment.project_id, Assessment.criterion_id).scalar_subquery())
    query = (select(Project.slug, Criterion.key, Assessment.level)
             .join(Project, Project.id == Assessment.project_id)
             .join(Criterion, Criterion.id == Assessment.criterion_id)
             .where(Assessment.id.in_(latest)))
    rows = frames._frame(session, query, ["slug", "criterion", "level"])
    return rows.pivot(index="slug", columns="criterion", values="level").astype(float)


def best_of(work: Callable[[], object], repeat: int) -> float:
    """Return the median seconds of a few runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def second_assessor(db: Database, share: float) -> int:
    """Add a second assessor's different level to a share of the assessed cells."""
    from portfolio.actors import SYSTEM
    from portfolio.models import User
    from portfolio.services import accounts

    with db.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, password="bench password 1234",
                          data={"email": "analyst@example.london", "name": "Analyst",
                                "role": "cdo", "organisation": None})
        analyst = session.execute(select(User.id).where(
            User.email == "analyst@example.london")).scalar()
        rows = session.execute(select(Assessment.project_id, Assessment.criterion_id,
                                      Assessment.level)).all()
        rng = np.random.default_rng(7)
        picked = [r for r in rows if rng.random() < share]
        now = datetime.now(UTC)
        session.execute(insert(Assessment), [
            {"project_id": p, "criterion_id": c, "level": 1 if level >= 3 else 5,
             "rationale": "second view", "assessor_id": analyst,
             "assessed_at": now} for p, c, level in picked])
    return len(picked)


def robustness_pair(db: Database, samples: int) -> tuple[float, float]:
    """Return seconds of the order's robustness on weights alone and with assessments."""
    from portfolio.services.frames import load_profile
    from scoring.engine import criterion_values

    with db.read() as session:
        loaded = frames.load_portfolio(session)
        profile = load_profile(session, None).weights
    values, _ = criterion_values(loaded.projects, loaded.criteria, loaded.levels, loaded.links)
    table = loaded.projects.rename(columns={"priority_override": "override"})
    _order, structure, _ = ordered_with_structure(table, loaded.dependencies)
    override = np.full(len(structure.slugs), np.nan)
    args = (values.reindex(structure.slugs), list(loaded.criteria), profile, structure, override)
    plain = best_of(lambda: order_robustness(*args, top_k=10, samples=samples), 1)
    both = best_of(lambda: order_robustness(*args, top_k=10, samples=samples,
                                            assessments=loaded.assessments), 1)
    return plain, both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000)
    options = parser.parse_args()
    with fresh_database("sqlite") as url:
        prepare_database(url, options.projects)
        db = Database(Settings(database_url=url))
        figures: dict[str, float] = {}
        with db.read() as session:
            figures["former read"] = best_of(lambda: former_levels(session), options.repeat)
            figures["median read, one assessor"] = best_of(
                lambda: frames.load_levels(session), options.repeat)
        disputed = second_assessor(db, 0.10)
        with db.read() as session:
            figures["median read, 10% disputed"] = best_of(
                lambda: frames.load_levels(session), options.repeat)
        plain, both = robustness_pair(db, options.samples)
        db.dispose()
    base = figures["former read"]
    print(f"{options.projects:,} projects, {disputed:,} cells with a second assessor")
    for name, seconds in figures.items():
        print(f"{name:32s} {seconds * 1000:8.0f} ms  {seconds / base:5.2f}x the former read")
    print(f"{'robustness, weights alone':32s} {plain * 1000:8.0f} ms")
    print(f"{'robustness, with assessments':32s} {both * 1000:8.0f} ms  {both / plain:5.2f}x "
          f"weights alone ({options.samples} samples)")


if __name__ == "__main__":
    main()
