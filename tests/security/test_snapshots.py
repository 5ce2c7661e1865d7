"""Finding 11: snapshots without limit; each user has a daily quota."""

from __future__ import annotations

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in
from web.app import create_app


def test_snapshots_per_user_per_day_are_limited(settings: Settings, london: Database) -> None:
    app = create_app(settings.model_copy(update={"snapshots_per_user_per_day": 2}))
    with Browser(app) as researcher, Browser(app) as colleague:
        sign_in(researcher, london, "researcher")
        sign_in(colleague, london, "researcher")
        made = [researcher.post("/api/v1/snapshots", json={"label": f"S{n}"}).status_code
                for n in range(3)]
        refused = researcher.post("/snapshots", data={"label": "page"},
                                  headers={"accept": "text/html"})
        other = colleague.post("/api/v1/snapshots", json={"label": "mine"})
        api = researcher.post("/api/v1/snapshots", json={"label": "again"})
    assert made == [201, 201, 429]
    assert refused.status_code == 429 and "the most a day allows" in refused.text
    assert 0 < int(api.headers["retry-after"]) <= 24 * 3600
    assert other.status_code == 201


def test_a_quota_of_none_a_day_refuses_the_first_snapshot_too(settings: Settings,
                                                               london: Database) -> None:
    app = create_app(settings.model_copy(update={"snapshots_per_user_per_day": 0}))
    with Browser(app) as researcher:
        sign_in(researcher, london, "researcher")
        refused = researcher.post("/api/v1/snapshots", json={"label": "first"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 24 * 3600
    assert "allows no snapshots" in refused.json()["detail"]


def test_snapshots_of_the_same_portfolio_store_its_tables_once(settings: Settings,
                                                               london: Database) -> None:
    from sqlalchemy import func, select

    from portfolio.models import Snapshot, SnapshotBody

    app = create_app(settings)
    with Browser(app) as researcher:
        sign_in(researcher, london, "researcher")
        first = researcher.post("/api/v1/snapshots", json={"label": "Monday"}).json()
        second = researcher.post("/api/v1/snapshots", json={"label": "Tuesday"}).json()
        verified = researcher.get(f"/api/v1/snapshots/{second['id']}/verify")
    assert first["content_hash"] != second["content_hash"]  # labels differ: sealed apart
    assert first["body_hash"] == second["body_hash"]
    with london.read() as session:
        bodies = session.execute(select(func.count()).select_from(SnapshotBody)).scalar()
        rows = session.execute(select(func.count()).select_from(Snapshot)).scalar()
        header = session.execute(select(func.length(Snapshot.header))).scalars().first()
    assert (rows, bodies) == (2, 1)
    assert header < 2000  # a snapshot of an unchanged portfolio adds its first line only
    assert verified.status_code == 200 and verified.json()["valid"] is True
