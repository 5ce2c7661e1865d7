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
