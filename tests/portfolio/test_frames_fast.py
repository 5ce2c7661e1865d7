"""Portfolio frames read from the driver's tuples equal those read through SQLAlchemy's rows."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlmodel import col, select

from portfolio.db import Database
from portfolio.models import Assessment, CriterionLevel, User
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


def read_unpacked(session) -> tuple:  # type: ignore[no-untyped-def]
    """Return assessment_reader's answer for ids too wide to pack: the plain five columns."""
    return frames.ASSESSMENT_ROWS, frames.ASSESSMENT_FIELDS, lambda rows: rows


def test_packed_assessments_read_the_same_rows_as_five_columns(london: Database) -> None:
    with london.read() as session:
        query, width, unpack = frames.assessment_reader(session)
        packed = frames._int_rows(session.connection(), query, width)
        plain = frames._int_rows(session.connection(), frames.ASSESSMENT_ROWS, 5)
        unpacked = frames._assessment_rows(lambda: packed, session, unpack)
    assert width == 1 and len(plain) == 770
    assert sorted(map(tuple, unpacked.tolist())) == sorted(map(tuple, plain.tolist()))


def test_the_portfolio_reads_the_same_packed_or_not(london: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with london.read() as session:
        packed = frames.load_portfolio(session)
    monkeypatch.setattr(frames, "assessment_reader", read_unpacked)
    with london.read() as session:
        plain = frames.load_portfolio(session)
    pd.testing.assert_frame_equal(packed.levels, plain.levels)
    pd.testing.assert_frame_equal(packed.assessments, plain.assessments)


def test_a_row_beyond_the_bounds_read_first_is_read_unpacked(
        london: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A level committed between the bounds and the rows (READ COMMITTED) is not garbled."""
    with london.read() as session:
        expected = frames.load_portfolio(session)
    reader = frames.assessment_reader

    def bounds_before_a_new_level(session):  # type: ignore[no-untyped-def]
        found = reader(session)
        with london.write() as other:
            # An assessor whose id needs more bits than the bounds gave assessors.
            other.add(User(id=1 << 20, email="late@example.org", name="Late", role="admin"))
            other.flush()
            level = a_changed_level(other)
            level.assessor_id = 1 << 20
            other.add(level)
        return found

    unpacked = []
    read = frames._int_rows
    monkeypatch.setattr(frames, "assessment_reader", bounds_before_a_new_level)
    monkeypatch.setattr(frames, "_int_rows", lambda connection, query, width: (
        unpacked.append(width) if query is frames.ASSESSMENT_ROWS else None) or read(
        connection, query, width))
    with london.read() as session:
        got = frames.load_portfolio(session)
    monkeypatch.undo()
    with london.read() as session:
        now = frames.load_portfolio(session)
    assert not now.levels.equals(expected.levels)
    if london.is_sqlite:
        # Its read transaction holds one snapshot from the bounds on: the new row is not seen.
        pd.testing.assert_frame_equal(got.levels, expected.levels)
        assert unpacked == []
    else:
        # READ COMMITTED: the rows' query sees the new row, beyond the bounds.
        pd.testing.assert_frame_equal(got.levels, now.levels)
        assert unpacked == [5]


def test_ids_too_wide_to_pack_are_read_in_five_columns(london: Database,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "PACKED_BITS", 8)
    with london.read() as session:
        query, width, _unpack = frames.assessment_reader(session)
        narrow = frames.load_portfolio(session)
    monkeypatch.undo()
    with london.read() as session:
        packed = frames.load_portfolio(session)
    assert width == 5 and query is frames.ASSESSMENT_ROWS
    pd.testing.assert_frame_equal(narrow.levels, packed.levels)
