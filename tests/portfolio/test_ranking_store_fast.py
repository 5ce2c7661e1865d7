"""A run's rows are stored by the fast path (row tuples, COPY on PostgreSQL) exactly as built."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import Project, RankingRow
from portfolio.services import ranking
from portfolio.services.frames import StoredProfile, load_profile
from scoring.engine import Ranking
from seeds.synthetic import seed_synthetic


def rows_both_ways(db: Database) -> tuple[list[dict], list[dict]]:
    """Return a fresh ranking's rows by _rows_of (the reference) and by _row_tuples."""
    with db.read() as session:
        profile = load_profile(session, None)
        built = ranking.compute(db, session, profile, samples=200, top_k=10)
        ids = dict(session.execute(select(Project.slug, Project.id)).all())
    reference = ranking._rows_of(7, built, ids)
    fast = [dict(zip(ranking.STORED_COLUMNS, row, strict=True))
            for row in ranking._row_tuples(7, built, ids)]
    for row in fast:
        for name in ranking.JSON_COLUMNS:
            row[name] = json.loads(row[name])
    return reference, fast


def stored_rows(db: Database, run_id: int) -> list[dict]:
    """Return a stored run's rows as the ORM reads them, in position order."""
    with db.read() as session:
        found = session.execute(select(RankingRow).where(RankingRow.run_id == run_id)
                                .order_by(RankingRow.position)).scalars().all()
        return [{name: getattr(row, name) for name in ranking.STORED_COLUMNS} for row in found]


def test_row_tuples_equal_the_reference_rows_on_the_london_seed(london: Database) -> None:
    reference, fast = rows_both_ways(london)
    assert fast == reference


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_row_tuples_equal_the_reference_rows_on_random_portfolios(db: Database,
                                                                   seed: int) -> None:
    with db.write() as session:
        seed_synthetic(session, projects=150, seed=seed)
    reference, fast = rows_both_ways(db)
    assert fast == reference


def test_a_stored_run_reads_back_as_the_reference_rows(db: Database,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with db.write() as session:
        seed_synthetic(session, projects=120, seed=4)
    # Small batches, so that several transactions (and COPYs on PostgreSQL) store one run.
    monkeypatch.setattr(ranking, "STORE_BATCH", 50)
    monkeypatch.setattr(ranking, "COPY_BATCH", 40)
    run = ranking.ensure_ranking(db)
    with db.read() as session:
        profile = load_profile(session, None)
        built = ranking.compute(db, session, profile, samples=ranking.DEFAULT_SAMPLES,
                                top_k=ranking.DEFAULT_TOP_K)
        ids = dict(session.execute(select(Project.slug, Project.id)).all())
    expected = sorted(ranking._rows_of(run.id, built, ids), key=lambda row: row["position"])
    assert stored_rows(db, run.id) == expected


def claimed_run(db: Database, monkeypatch: pytest.MonkeyPatch, seed: int
                ) -> tuple[StoredProfile, Ranking, dict[str, int], int]:
    """Seed a portfolio, rank it and claim a run for it, stored in batches of 40 rows.

    Returns the profile, the ranking, the project ids by slug and the run's id.
    """
    with db.write() as session:
        seed_synthetic(session, projects=120, seed=seed)
        profile = load_profile(session, None)
    with db.read() as session:
        built = ranking.compute(db, session, profile, samples=50, top_k=10)
        ids = dict(session.execute(select(Project.slug, Project.id)).all())
    run_id = ranking._claim_run(db, profile, 1, 0.0, built.samples)
    assert run_id is not None
    monkeypatch.setattr(ranking, "STORE_BATCH", 40)
    monkeypatch.setattr(ranking, "COPY_BATCH", 40)
    return profile, built, ids, run_id


def test_a_run_removed_while_stored_keeps_none_of_its_rows(db: Database,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _, built, ids, run_id = claimed_run(db, monkeypatch, seed=5)
    removed = []

    def another_worker_removes_it(_db: Database, _held: float, _freed: float) -> None:
        # After the first batch, another worker judges the run abandoned and removes it.
        if not removed:
            removed.append(run_id)
            ranking._remove_run(db, run_id)

    monkeypatch.setattr(ranking, "_let_writers_in", another_worker_removes_it)
    with pytest.raises(RuntimeError, match="removed while it was stored"):
        ranking._store_rows(db, run_id, built, ids)
    assert removed == [run_id]
    with db.read() as session:
        left = session.execute(select(RankingRow).where(RankingRow.run_id == run_id)).all()
    assert left == []


def test_a_storer_whose_run_was_replaced_stops_and_leaves_the_new_run_alone(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    profile, built, ids, stale = claimed_run(db, monkeypatch, seed=6)
    replaced: list[int | None] = []

    def another_worker_replaces_it(_db: Database, _held: float, _freed: float) -> None:
        # After the first batch, another worker removes the run as abandoned and claims its own
        # for the same revision (SQLite would hand a removed largest id out again).
        if not replaced:
            replaced.append(None)
            ranking._remove_run(db, stale)
            replaced[0] = ranking._claim_run(db, profile, 1, 0.0, built.samples)

    monkeypatch.setattr(ranking, "_let_writers_in", another_worker_replaces_it)
    with pytest.raises(RuntimeError, match="removed while it was stored"):
        ranking._store_rows(db, stale, built, ids)
    fresh = replaced[0]
    assert fresh is not None and fresh != stale
    with db.read() as session:
        rows = session.execute(select(RankingRow.run_id)).scalars().all()
        run = session.get(ranking.RankingRun, fresh)
    assert rows == [] and run is not None and run.rows_stored == 0


def test_a_run_removed_after_its_last_batch_is_not_marked_complete(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    with db.write() as session:
        seed_synthetic(session, projects=60, seed=7)
    store = ranking._store_rows

    def stored_then_removed(db_: Database, run_id: int, *args: object) -> None:
        store(db_, run_id, *args)  # type: ignore[arg-type]
        ranking._remove_run(db_, run_id)  # another worker judged it abandoned meanwhile

    monkeypatch.setattr(ranking, "_store_rows", stored_then_removed)
    with pytest.raises(RuntimeError, match="removed while it was stored"):
        ranking._compute_and_store(db, None)
    with db.read() as session:
        assert session.execute(select(ranking.RankingRun)).scalars().all() == []
