"""Portfolio frames read from the driver's tuples equal those read through SQLAlchemy's rows."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlmodel import col, select

from portfolio.db import Database
from portfolio.models import Assessment, CriterionLevel
from portfolio.services import frames
from portfolio.services.common import consistent_read
from seeds.synthetic import seed_synthetic


def through_rows(session, query, columns):  # type: ignore[no-untyped-def]
    """Return a query's rows as a DataFrame the plain way: SQLAlchemy rows, every type processed."""
    rows = [tuple(row) for row in session.connection().execute(query).all()]
    return pd.DataFrame.from_records(rows, columns=columns)


def both_ways(db: Database, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """Return the portfolio read by the fast path and by SQLAlchemy's rows."""
    with db.read() as session:
        fast = frames.load_portfolio(session)
    with monkeypatch.context() as patch:
        patch.setattr(frames, "_frame", through_rows)
        with db.read() as session:
            plain = frames.load_portfolio(session)
    return fast, plain


def assert_same(fast: frames.PortfolioFrames, plain: frames.PortfolioFrames) -> None:
    assert fast.criteria == plain.criteria
    for name in ("projects", "levels", "links", "dependencies", "datasets", "partners",
                 "organisations"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(plain, name), obj=name)


def test_london_frames_are_the_same_either_way(london: Database,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(*both_ways(london, monkeypatch))


def test_synthetic_frames_are_the_same_either_way(db: Database,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with db.write() as session:
        seed_synthetic(session, projects=200, seed=5)
    assert_same(*both_ways(db, monkeypatch))


def test_assessments_read_in_batches_are_the_same(london: Database,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with london.read() as session:
        whole = frames.load_portfolio(session)
    monkeypatch.setattr(frames, "INT_ROWS_BATCH", 7)  # London's 770 rows in 110 batches
    with london.read() as session:
        batched = frames.load_portfolio(session)
    pd.testing.assert_frame_equal(batched.levels, whole.levels)
    pd.testing.assert_frame_equal(batched.assessments, whole.assessments)


def a_changed_level(session) -> Assessment:  # type: ignore[no-untyped-def]
    """Return a new assessment that replaces the level of a cell assessed with no assessor."""
    found = session.execute(select(Assessment).where(col(Assessment.assessor_id).is_(None))
                            .order_by(col(Assessment.id))).scalars().first()
    assert found is not None
    levels = session.execute(select(col(CriterionLevel.level)).where(
        col(CriterionLevel.criterion_id) == found.criterion_id)).scalars().all()
    other = next(level for level in levels if level != found.level)
    return Assessment(project_id=found.project_id, criterion_id=found.criterion_id, level=other)


def test_the_assessments_are_read_in_the_transactions_snapshot(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A level committed meanwhile by another writer is not seen, as by every other read."""
    beside = []
    read_beside = frames._int_rows_in_snapshot
    monkeypatch.setattr(frames, "_int_rows_in_snapshot",
                        lambda *args: beside.append(args) or read_beside(*args))
    with london.read() as session:
        consistent_read(session)
        first = frames.load_portfolio(session)
        with london.write() as other:
            other.add(a_changed_level(other))
        again = frames.load_portfolio(session)
    with london.read() as session:
        fresh = frames.load_portfolio(session)
    pd.testing.assert_frame_equal(again.levels, first.levels)
    assert not fresh.levels.equals(first.levels)
    # PostgreSQL's server reads them on a second connection; SQLite's in turn.
    assert len(beside) == (0 if london.is_sqlite else 3)


def test_a_transaction_that_wrote_reads_its_own_assessments(london: Database) -> None:
    with london.read() as session:
        before = frames.load_portfolio(session).levels
    with london.write() as session:
        session.add(a_changed_level(session))
        session.flush()
        during = frames.load_portfolio(session).levels
        session.rollback()
    assert not during.equals(before)


def test_the_portfolio_reads_in_a_savepoint(london: Database) -> None:
    """PostgreSQL exports no snapshot from a savepoint: the assessments are read in it."""
    with london.read() as session:
        whole = frames.load_portfolio(session)
    with london.read() as session:
        consistent_read(session)
        session.execute(select(col(Assessment.id))).first()
        with session.begin_nested():
            nested = frames.load_portfolio(session)
    pd.testing.assert_frame_equal(nested.levels, whole.levels)
