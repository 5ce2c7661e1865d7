"""Finding 10: /docs works under the app's own CSP, from the npm package, behind sign-in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portfolio.db import Database
from tests.browser.conftest import browser, live_server, page, sign_in  # noqa: F401 - fixtures
from tests.web.auth import Browser
from tests.web.auth import sign_in as sign_in_client


@pytest.mark.browser
def test_docs_page_runs_swagger_ui_under_the_csp(page: Page) -> None:  # noqa: F811
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto("/docs")
    expect(page).to_have_url(re.compile(r"/login\?next=/docs$"))
    sign_in(page, "cdo")
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("London data portfolio")
    expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible()
    assert refused == []


def test_docs_page_is_behind_sign_in_and_loads_nothing_from_a_cdn(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as client:
        assert client.get("/docs", follow_redirects=False).status_code == 303
        sign_in_client(client, db, "researcher")
        html = client.get("/docs").text
        assert "cdn" not in html.lower() and "<script>" not in html
        assert "/static/vendor/swagger-ui-bundle.js" in html
        script = client.get("/static/vendor/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
