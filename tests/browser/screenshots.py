"""Screenshots of the main pages at desktop and phone widths, for a reviewer: `make screenshots`.

Not a test module (its name does not start with test_), so the suite never runs it; pytest runs
it when named, with the browser tests' live server and Chromium.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.axe import DESKTOP, PHONE
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

OUT = Path(os.environ.get("SCREENSHOTS_DIR", "var/screenshots"))
MAIN_PAGES = {
    "projects": "/", "dashboard": "/dashboard", "backlog": "/backlog",
    "project": "/projects/bd-one-view", "why": "/projects/bd-one-view/why",
    "edit": "/projects/bd-one-view/edit", "datasets": "/datasets", "graph": "/graph",
    "shared-datasets": "/graph?view=datasets", "plan": "/plan", "roadmap": "/plan/roadmap",
    "profiles": "/profiles", "reviews": "/reviews", "collaboration": "/collaboration",
    "benefits": "/benefits", "over-time": "/over-time", "snapshots": "/snapshots",
    "import": "/import", "account": "/account",
}


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_screenshots(browser: Browser, live_server: str, width: str) -> None:
    """Write a full-page PNG of each main page at one width."""
    OUT.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(base_url=live_server,
                                  viewport=DESKTOP if width == "desktop" else PHONE)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, "cdo")
    for name, path in MAIN_PAGES.items():
        page.goto(path)
        if name == "graph":
            page.locator("#graph-status").filter(has_text="drawn").wait_for()
        page.screenshot(path=str(OUT / f"{name}-{width}.png"), full_page=True)
    context.close()
    print(f"screenshots written to {OUT.resolve()}")
