"""Finding 10: /docs works under the app's own CSP, from the npm package, behind sign-in.

The page is also driven in Chromium: tests/browser/test_api_docs.py.
"""

from __future__ import annotations

from portfolio.db import Database
from tests.web.auth import Browser, sign_in


def test_docs_page_is_behind_sign_in_and_loads_nothing_from_a_cdn(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as client:
        assert client.get("/docs", follow_redirects=False).status_code == 303
        sign_in(client, db, "researcher")
        html = client.get("/docs").text
        assert "cdn" not in html.lower() and "<script>" not in html
        assert "/static/vendor/swagger-ui-bundle.js" in html
        script = client.get("/static/vendor/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
