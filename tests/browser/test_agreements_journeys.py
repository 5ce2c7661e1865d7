"""The agreements register, the IG path and the editable catalogue in a real browser, with axe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in


@pytest.fixture
def page(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A fresh page whose context lets axe-core's script in past the app's CSP."""
    context = browser.new_context(base_url=live_server, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()

PAGES = {
    "the agreements list": "/agreements?as_of=2027-03-31",
    "an agreement": "/agreements/london-street-works-dsa",
    "the agreement form": "/agreements/new",
    "the agreement edit form": "/agreements/ukpn-priority-services-register-boroughs/edit",
    "the dataset register form": "/catalogue/register",
    "a dataset with its readiness history": "/datasets/bd-adult-social-care-records",
    "a project with its IG path": "/projects/bd-one-view-phase-2",
    "the datasets list": "/datasets?drl=B1",
}


def test_the_new_pages_pass_axe_at_desktop_and_phone_widths(page: Page) -> None:
    sign_in(page, "cdo")
    for state, path in PAGES.items():
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            page.goto(path)
            assert_accessible(page, f"{state} at {size['width']} px")


def test_a_refused_agreement_shows_the_summary_and_keeps_the_input(page: Page) -> None:
    sign_in(page, "cdo")
    page.goto("/agreements/new")
    page.get_by_label("Code").fill("typed-in-browser")
    page.get_by_label("Title").fill("Agreement typed in the browser")
    page.get_by_label("Party 1", exact=True).select_option("GLA")
    page.get_by_label("Signed on").fill("2027-05-01")
    page.get_by_label("Expires on").fill("2027-04-01")
    page.get_by_role("button", name="Register the agreement").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("before the date it was signed")
    expect(page.get_by_label("Title")).to_have_value("Agreement typed in the browser")
    assert_accessible(page, "the agreement form with errors")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "the agreement form with errors at 390 px")
