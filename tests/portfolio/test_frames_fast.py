"""Portfolio frames read from the driver's tuples equal those read through SQLAlchemy's rows."""

from __future__ import annotations

import pandas as pd
import pytest

from portfolio.db import Database
from portfolio.services import frames
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
