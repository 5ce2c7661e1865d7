"""The API documentation page in a real Chromium, under the app's own CSP (review finding 10)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_docs_page_runs_swagger_ui_under_the_csp(page: Page) -> None:
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
