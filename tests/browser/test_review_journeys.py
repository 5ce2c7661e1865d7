"""Review and editing journeys in a real headless Chromium (issues 12 and 14)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def second(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """Open a second person's browser beside the first."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def register(page: Page, slug: str, title: str) -> None:
    """Register an idea for Barking and Dagenham as its lead."""
    page.goto("/projects/new")
    page.get_by_label("Short name (slug)").fill(slug)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Owner organisation").select_option("E09000002")
    page.get_by_label("Theme", exact=True).select_option("housing")
    page.get_by_label("Status", exact=True).select_option("idea")
    page.get_by_role("button", name="Register the project").click()
    expect(page).to_have_url(re.compile(rf"/projects/{slug}/edit"))


def test_a_lead_submits_the_cdo_asks_for_information_the_lead_answers_the_cdo_approves(
    page: Page, second: Page
) -> None:
    lead, cdo = page, second
    slug, title = "bd-void-homes-finder", "Void homes finder"
    sign_in(lead, "lead")
    register(lead, slug, title)
    lead.goto(f"/projects/{slug}")
    lead.get_by_role("button", name="Submit for review").click()
    expect(lead.locator("#flash")).to_contain_text("now proposed")
    expect(lead.locator("p.meta span.status")).to_have_text("Proposed")

    sign_in(cdo, "cdo")
    cdo.goto("/reviews")
    cdo.locator("#awaiting-table").get_by_role("link", name=title).click()
    cdo.get_by_label("Needs information").check()
    cdo.get_by_label("Rationale").fill("Which council systems hold the void data?")
    cdo.get_by_role("button", name="Record the decision").click()
    cdo.goto("/reviews")
    expect(cdo.locator("#asking-table")).to_contain_text(title)
    expect(cdo.locator("#awaiting-table")).not_to_contain_text(title)

    lead.goto("/")
    question = lead.locator("section.question")
    expect(question).to_contain_text("Which council systems hold the void data?")
    question.get_by_role("link", name=title).click()
    expect(lead.locator("#question")).to_contain_text("Which council systems hold")
    lead.get_by_label("Your answer").fill("Northgate housing and council tax empties.")
    lead.get_by_role("button", name="Send the answer").click()
    expect(lead.locator("#flash")).to_contain_text("back in the review queue")
    expect(lead.locator("#question")).to_have_count(0)

    cdo.goto("/reviews")
    row = cdo.locator("#awaiting-table tr", has_text=title)
    expect(row).to_contain_text("Northgate housing and council tax empties.")
    row.get_by_role("link", name=title).click()
    cdo.get_by_label("Approve").check()
    cdo.get_by_label("Rationale").fill("Clear data sources; small and quick.")
    cdo.get_by_role("button", name="Record the decision").click()
    cdo.goto(f"/projects/{slug}")
    expect(cdo.locator("p.meta span.status")).to_have_text("Approved")
    history = cdo.locator("ol.history")
    expect(history).to_contain_text("Moved from proposed to approved by a review decision")
    expect(history).to_contain_text("Answered the reviewer's question")
    expect(history).to_contain_text("Moved from idea to proposed")

    lead.goto(f"/projects/{slug}")
    expect(lead.get_by_role("button", name="Start the work")).to_be_visible()


def test_the_error_summary_takes_focus_and_links_to_the_field(page: Page) -> None:
    sign_in(page, "lead")
    page.goto("/projects/new")
    page.get_by_label("Short name (slug)").fill("bd-summary-check")
    page.get_by_label("Mandatory or statutory").check()
    page.get_by_label("Involves personal data").check()
    page.get_by_label("Start date").fill("2026-05-01")
    page.get_by_label("End date").fill("2026-01-01")
    page.get_by_role("button", name="Register the project").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    # Every check on the one submit, across fields too.
    for text in ("Title: This is required", "Statutory justification: A mandatory project",
                 "DPIA status: A project that involves personal data",
                 "End date: The end date must not be before"):
        expect(summary).to_contain_text(text)
    summary.get_by_role("link", name=re.compile("^Title")).click()
    # The link focuses its field with the field's label in view (app.js), not a bare jump.
    expect(page.locator("#f-title")).to_be_focused()
    expect(page.locator("label[for=f-title]")).to_be_in_viewport()


def test_adding_a_partner_keeps_an_unsaved_title_and_leaving_warns(page: Page) -> None:
    sign_in(page, "lead")
    register(page, "bd-keep-my-title", "Keep my title")
    page.get_by_label("Title", exact=True).fill("Keep my title, edited")
    page.get_by_label("Organisation", exact=True).fill("E09000007")
    page.get_by_role("button", name="Add the partner").click()
    expect(page.locator("#sec-partners [role=status]")).to_have_text("The partner is saved.")
    expect(page.locator("#sec-partners ul.links")).to_contain_text("Camden")
    expect(page.get_by_label("Title", exact=True)).to_have_value("Keep my title, edited")

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page).to_have_url(re.compile("/edit"))
    assert dialogs == ["beforeunload"]

    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#flash")).to_contain_text("Saved your changes to title")
    expect(page.get_by_role("heading", level=1)).to_have_text("Keep my title, edited")


def test_a_lead_is_offered_only_the_statuses_they_may_choose(page: Page) -> None:
    sign_in(page, "lead")
    page.goto("/projects/bd-ctr-scheme-review/edit")
    options = page.get_by_label("Status", exact=True).locator("option")
    expect(options).to_have_text(["Approved", "In progress"])
    expect(page.get_by_label("Reason for the status change")).to_have_count(0)
