"""A single project edit re-ranked at 100,000 projects: one the ranking reads, one it does not.

Run: python -m bench.bench_single_edit [--projects 100000] [--kind sqlite|postgresql]
     [--database FILE]

On a seeded portfolio (a copy of FILE when given) the worker's own path (`_compute_and_store`)
ranks the portfolio once, then re-ranks after each of four edits through the project service,
timed from the edit's commit to the stored run: a title and description (fields the ranking
never reads: the run is carried forward), a start and end date (the same), an effort (read by
the ranking: computed again, from the frames the worker kept patched with the edited
project's row; on the synthetic portfolio it stays in its band, so no place moves), and an
assessment that moves a project far down the order (computed again the same way; the report
says from which place to which). A fifth edit, an effort again, is re-ranked with nothing
kept: the whole portfolio read again as today's code does, the same run's baseline. Nothing
is asserted; the ratios within one run are the figures to read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    machine_info,
    prepare_database,
    print_table,
    run_cli,
)

# Each edit's fields, by name; the first two the ranking never reads.
EDITS = (
    ("title and description", lambda n: {"title": f"Renamed project {n}",
                                         "description": f"Described again ({n})"}),
    ("start and end dates", lambda n: {"start_date": date(2027, 1, 1 + n).isoformat(),
                                       "end_date": date(2027, 12, 1 + n).isoformat()}),
    ("effort (read by the ranking)", lambda n: {"effort_pm": 3.5 + n}),
)

# The edit that moves a project's place: one more assessment of its benefit to residents, at
# the lowest level, of a project a fifth of the way down that no dependency pushes.
MOVING_EDIT = "an assessment that moves its place"
MOVING_CRITERION = "residents_benefit"


def _reranked(db: Any, name: str, carried: list[bool]) -> dict[str, Any]:
    """Re-rank after an edit through the worker's path; return the time and the run made."""
    from portfolio.services import ranking

    carried.clear()
    started = time.perf_counter()
    run = ranking._compute_and_store(db, None)
    seconds = time.perf_counter() - started
    return {"edit": name, "seconds": seconds, "run": run.id, "revision": run.revision,
            "carried": any(carried)}


def _movable_project(db: Any, run: Any) -> tuple[str, int]:
    """Return a project a fifth of the way down that no dependency pushes, and its place."""
    from sqlalchemy import text

    with db.read() as session:
        slug, position = session.execute(text(
            "SELECT p.slug, r.position FROM ranking_row r JOIN project p ON p.id = r.project_id "
            "WHERE r.run_id = :run AND r.position >= :at AND r.effective_priority = r.priority "
            "AND r.composite > 50 ORDER BY r.position LIMIT 1"),
            {"run": run.rows_id, "at": 0.2 * _run_count(session, run.rows_id)}).one()
    return slug, position


def _run_count(session: Any, rows_id: int) -> int:
    """Return how many rows a stored run has."""
    from sqlalchemy import text

    return int(session.execute(text("SELECT count(*) FROM ranking_row WHERE run_id = :run"),
                               {"run": rows_id}).scalar_one())


def _place(db: Any, run_id: int, slug: str) -> int | None:
    """Return a project's place in a stored run (the run's own rows or those it reads)."""
    from sqlalchemy import text

    with db.read() as session:
        rows_id = session.execute(text(
            "SELECT coalesce(rows_run_id, id) FROM ranking_run WHERE id = :run"),
            {"run": run_id}).scalar_one()
        return session.execute(text(
            "SELECT r.position FROM ranking_row r JOIN project p ON p.id = r.project_id "
            "WHERE r.run_id = :run AND p.slug = :slug"),
            {"run": rows_id, "slug": slug}).scalar()


def measure(database_url: str) -> dict[str, Any]:
    """Rank once, then time each edit's re-ranking through the worker's path."""
    from portfolio.actors import SYSTEM
    from portfolio.db import Database
    from portfolio.services import projects as project_service
    from portfolio.services import ranking
    from portfolio.settings import Settings

    db = Database(Settings(database_url=database_url, environment="test",
                           secret_key="bench-secret"))
    try:
        started = time.perf_counter()
        ranking._compute_and_store(db, None)
        figures: dict[str, Any] = {"first_ranking_s": time.perf_counter() - started,
                                   "edits": []}
        with db.read() as session:
            slug = project_service.list_projects(session=session, limit=1)[0]["slug"]
        # Told apart by whether the stored run was carried forward (`_carry_forward`).
        carried: list[bool] = []
        carry = ranking._carry_forward

        def counted(*args: Any, **kwargs: Any) -> Any:
            found = carry(*args, **kwargs)
            carried.append(found is not None)
            return found

        ranking._carry_forward = counted  # type: ignore[assignment]
        for n, (name, fields) in enumerate(EDITS):
            db.background.wait()  # the runs the last one replaced are removed before the edit
            with db.write() as session:
                version = project_service.get_project(session=session, slug=slug)["version"]
                project_service.patch_project(session=session, actor=SYSTEM, slug=slug,
                                              data={"version": version, **fields(n)})
            figures["edits"].append(_reranked(db, name, carried))
        db.background.wait()
        moved, before = _movable_project(db, ranking._compute_and_store(db, None))
        with db.write() as session:
            project_service.assess(session=session, actor=SYSTEM, slug=moved, data={
                "criterion": MOVING_CRITERION, "level": 1, "rationale": "bench: moved down"})
        figures["edits"].append(_reranked(db, MOVING_EDIT, carried))
        figures["moved"] = {"project": moved, "from": before,
                            "to": _place(db, figures["edits"][-1]["run"], moved)}
        ranking._carry_forward = carry  # type: ignore[assignment]
        # The baseline: the same kind of edit with nothing kept, the whole portfolio read.
        db.background.wait()
        with db.write() as session:
            version = project_service.get_project(session=session, slug=slug)["version"]
            project_service.patch_project(session=session, actor=SYSTEM, slug=slug,
                                          data={"version": version, "effort_pm": 9.5})
        db.run_memo.clear()
        started = time.perf_counter()
        ranking._compute_and_store(db, None)
        figures["ranked_full_read_s"] = time.perf_counter() - started
    finally:
        db.dispose()
    by_name = {e["edit"]: e["seconds"] for e in figures["edits"]}
    figures["unranked_edit_s"] = max(by_name[EDITS[0][0]], by_name[EDITS[1][0]])
    figures["ranked_edit_s"] = by_name[EDITS[2][0]]
    figures["moving_edit_s"] = by_name[MOVING_EDIT]
    figures["ratio"] = figures["ranked_edit_s"] / figures["unranked_edit_s"]
    return figures


@contextmanager
def _database(kind: str, projects: int, database: str | None) -> Any:
    """Yield a seeded database's URL (a copy of `database` when given) and its set-up times."""
    if kind == "postgresql":
        url = create_postgres_database()
        try:
            yield url, prepare_database(url, projects)
        finally:
            drop_postgres_database(url)
        return
    with tempfile.TemporaryDirectory(prefix="portfolio-bench-edit-") as tmp:
        copy = Path(tmp) / "edit.db"
        if database and Path(database).exists():
            shutil.copy(database, copy)
            url = f"sqlite:///{copy}"
            yield url, {"reused": database, "upgrade_s": run_cli(["db", "upgrade"], url)}
        else:
            url = f"sqlite:///{copy}"
            yield url, prepare_database(url, projects)


def run(projects: int = 100_000, kind: str = "sqlite",
        database: str | None = None) -> dict[str, Any]:
    """Seed (or copy) a portfolio and time a single edit's re-ranking of each kind."""
    report: dict[str, Any] = {"machine": machine_info(), "projects": projects, "database": kind}
    with _database(kind, projects, database) as (url, prepared):
        report["prepare"] = prepared
        report.update(measure(url))
    print_report(report)
    return report


def print_report(report: dict[str, Any]) -> None:
    """Print each edit's re-ranking time."""
    print(f"{report['database']}, {report['projects']:,} projects; first ranking "
          f"{report['first_ranking_s']:.1f} s")
    print_table(["edit", "re-ranked in s", "carried forward"],
                [[e["edit"], f"{e['seconds']:.3f}", "yes" if e["carried"] else "no"]
                 for e in report["edits"]])
    print(f"an edit the ranking reads: {report['ranked_edit_s']:.2f} s from the kept frames, "
          f"{report['ranked_full_read_s']:.2f} s reading the whole portfolio again as today's "
          f"code does ({report['ranked_full_read_s'] / report['ranked_edit_s']:.2f}x)")
    print(f"an edit the ranking does not read: {report['unranked_edit_s']:.3f} s, "
          f"{report['ratio']:.1f}x faster than one it reads in the same run "
          f"({report['ranked_edit_s']:.2f} s)")
    moved = report["moved"]
    print(f"an assessment that moves {moved['project']} from place {moved['from']:,} to "
          f"{moved['to']:,}: {report['moving_edit_s']:.2f} s")


def main() -> None:
    """Parse flags, run and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000, help="projects to seed")
    parser.add_argument("--kind", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database", help="an SQLite file already seeded (copied, not changed)")
    args = parser.parse_args()
    print(json.dumps(run(args.projects, args.kind, args.database), indent=2, default=str))


if __name__ == "__main__":
    main()
