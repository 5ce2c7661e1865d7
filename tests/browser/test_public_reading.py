"""An anonymous reader of a public portfolio (PORTFOLIO_PUBLIC_READ=true) in a real Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from portfolio.settings import Settings
from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def public_server(sqlite_london_template: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the London portfolio readable without signing in; yield the base URL."""
    target = tmp_path_factory.mktemp("public") / "portfolio.db"
    shutil.copyfile(sqlite_london_template, target)
    settings = Settings(database_url=f"sqlite:///{target}", environment="test",
                        secret_key="public-browser-tests", public_read=True,
                        attachments_dir=target.parent / "documents")
    with serving(settings, "the public reading tests") as url:
        yield url


@pytest.fixture
def reader(browser: Browser, public_server: str) -> Iterator[Page]:
    """A browser page of someone who has not signed in."""
    context = browser.new_context(base_url=public_server, viewport=DESKTOP)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


# Found in review: the main navigation was empty for an anonymous reader, so the backlog, the
# graph and the datasets could be reached only by typing their addresses.
def test_an_anonymous_reader_is_offered_the_pages_they_may_read(reader: Page) -> None:
    reader.goto("/backlog")
    nav = reader.get_by_role("navigation", name="Main")
    for label in ("Backlog", "Graph", "Datasets", "Projects"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Backlog", exact=True)).to_have_attribute(
        "aria-current", "page")
    # Only what they may open: nothing that asks them to sign in or to hold a role.
    for label in ("Register a project", "Import"):
        expect(nav.get_by_role("link", name=label)).to_have_count(0)
    hrefs = nav.locator("a").evaluate_all("(links) => links.map((a) => a.href)")
    for href in hrefs:
        response = reader.request.get(href, max_redirects=0)
        assert response.status == 200, f"{href} answered {response.status} to a reader"


def test_the_anonymous_navigation_passes_axe_at_both_widths(reader: Page) -> None:
    reader.goto("/datasets")
    assert_accessible(reader, "datasets, anonymous, desktop")
    reader.set_viewport_size(PHONE)
    reader.get_by_role("button", name="Menu").click()
    expect(reader.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Graph")).to_be_visible()
    assert_accessible(reader, "datasets, anonymous, phone, menu open")
