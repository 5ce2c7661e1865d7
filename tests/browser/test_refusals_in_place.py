"""A refused or unsent htmx post says why at the top of its form, keeping what was typed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser

# In the browser lead's borough and used by no other browser module, so its discussion is ours.
SLUG = "bd-debt-arrears-prevention"
EDIT_URL = re.compile(rf"/projects/{SLUG}/comments/\d+/edit$")


def _signed_in(browser: Browser, live_server: str, role: str) -> Iterator[Page]:
    """Yield a page of its own browser context (its own session) signed in as a role."""
    context = browser.new_context(base_url=live_server, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        tab = context.new_page()
        sign_in(tab, role)
        yield tab
    finally:
        context.close()


@pytest.fixture
def author(browser: Browser, live_server: str) -> Iterator[Page]:
    """The borough lead, who posts and edits comments."""
    yield from _signed_in(browser, live_server, "lead")


@pytest.fixture
def moderator(browser: Browser, live_server: str) -> Iterator[Page]:
    """The CDO, in another session, who may remove anyone's comment."""
    yield from _signed_in(browser, live_server, "cdo")


def posted_and_opened_for_edit(page: Page, text: str) -> Locator:
    """Post a comment on the project page, open its edit form; return the comment's list item."""
    page.goto(f"/projects/{SLUG}")
    page.get_by_label("Add a comment").fill(text)
    page.get_by_role("button", name="Post the comment").click()
    comment = page.locator("#discussion li", has_text=text)
    comment.locator("summary", has_text="Edit").click()
    expect(comment.get_by_label("Your comment")).to_be_visible()
    return comment


def removed_by_moderator(moderator: Page, text: str) -> None:
    """Remove the comment from the moderator's session, confirming the browser's question."""
    moderator.goto(f"/projects/{SLUG}")
    moderator.once("dialog", lambda dialog: dialog.accept())
    comment = moderator.locator("#discussion li", has_text=text)
    comment.get_by_role("button", name="Remove the comment by Browser lead").click()
    expect(moderator.locator("#discussion")).not_to_contain_text(text)


def refused_edit(author: Page, moderator: Page, text: str, typed: str) -> tuple[Locator, int]:
    """Save an edit of a comment a moderator removed meanwhile; return its form and its id."""
    comment = posted_and_opened_for_edit(author, text)
    comment_id = int((comment.get_attribute("id") or "").removeprefix("comment-"))
    removed_by_moderator(moderator, text)
    form = comment.locator("details form")
    form.get_by_label("Your comment").fill(typed)
    with author.expect_response(EDIT_URL) as answer:
        form.get_by_role("button", name="Save the change").click()
    assert answer.value.status == 404  # not the discussion fragment: the handler's case
    return form, comment_id


def test_an_edit_of_a_comment_removed_meanwhile_says_why_at_the_top_of_its_form(
    author: Page, moderator: Page
) -> None:
    typed = "Arrears fell by a fifth after the first letters went out."
    form, _ = refused_edit(author, moderator, "Arrears are falling.", typed)

    alert = form.locator(":scope > [data-refusal]")
    expect(alert).to_have_text(
        "Not saved. This comment was removed meanwhile. What you typed is still here.")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_be_visible()
    expect(alert).to_be_focused()
    assert form.evaluate("(form) => form.firstElementChild.hasAttribute('data-refusal')")
    expect(form.get_by_label("Your comment")).to_have_value(typed)


def test_an_edit_that_cannot_reach_the_portfolio_says_so_and_clears_when_saved_again(
    author: Page,
) -> None:
    comment = posted_and_opened_for_edit(author, "Letters go out on Monday.")
    form = comment.locator("details form")
    typed = "Letters go out on Tuesday, after the bank holiday."
    form.get_by_label("Your comment").fill(typed)

    author.route(EDIT_URL, lambda route: route.abort("connectionrefused"))
    form.get_by_role("button", name="Save the change").click()
    alert = form.locator(":scope > [data-refusal]")
    expect(alert).to_have_text("Not saved. The portfolio could not be reached; try again in a "
                               "moment. What you typed is still here.")
    expect(alert).to_be_focused()
    expect(form.get_by_label("Your comment")).to_have_value(typed)

    # Count the form's notices as the next request leaves: the old one must be gone by then,
    # not only after the answer replaces the discussion.
    author.unroute(EDIT_URL)
    author.evaluate("""() => document.addEventListener('htmx:beforeSend', (event) => {
        const form = event.detail.elt.closest('form');
        window.noticesAsSent = form.querySelectorAll('[data-refusal]').length;
    }, {once: true})""")
    with author.expect_response(EDIT_URL) as answer:
        form.get_by_role("button", name="Save the change").click()
    assert answer.value.status == 200
    expect(author.locator("#discussion .comment-body", has_text=typed)).to_be_visible()
    assert author.evaluate("() => window.noticesAsSent") == 0
    expect(author.locator("[data-refusal]")).to_have_count(0)


def test_a_project_page_showing_a_refusal_passes_axe(author: Page, moderator: Page) -> None:
    form, _ = refused_edit(author, moderator, "Call the top ten households first.", "Call twenty.")
    expect(form.locator(":scope > [data-refusal]")).to_be_focused()
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        author.set_viewport_size(size)
        assert_accessible(author, f"a project page with a refused comment edit ({name})")


def test_an_edit_saved_from_an_older_tab_keeps_what_was_typed_beside_the_newer_text(
    author: Page,
) -> None:
    comment = posted_and_opened_for_edit(author, "Arrears letters drafted.")
    other_tab = author.context.new_page()
    other_tab.goto(f"/projects/{SLUG}")
    in_other = other_tab.locator("#discussion li", has_text="Arrears letters drafted.")
    in_other.locator("summary", has_text="Edit").click()
    in_other.get_by_label("Your comment").fill("Arrears letters sent on Monday.")
    in_other.get_by_role("button", name="Save the change").click()
    expect(other_tab.locator("#discussion .comment-body",
                             has_text="Arrears letters sent on Monday.")).to_be_visible()

    typed = "Arrears letters approved by legal."
    form = comment.locator("details form")
    form.get_by_label("Your comment").fill(typed)
    with author.expect_response(EDIT_URL) as answer:
        form.get_by_role("button", name="Save the change").click()
    assert answer.value.status == 200  # the discussion, swapped in place with the refusal
    again = author.locator("#discussion li", has_text="Arrears letters sent on Monday.")
    expect(again.get_by_label("Your comment")).to_have_value(typed)
    expect(again.locator(".field-error")).to_contain_text("changed since you opened this page")
