"""Working together in a browser: progress, a comment posted without a reload, notifications."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

COMMITTED = "bd-one-view-phase-2"  # the browser lead's borough, in progress


@pytest.fixture
def page(browser, live_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A page whose context lets axe-core be injected past the app's script-src 'self' CSP."""
    context = browser.new_context(base_url=live_server, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def accessible_at_both_sizes(page, state: str) -> None:  # type: ignore[no-untyped-def]
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        assert_accessible(page, f"{state} ({name})")


def test_lead_reports_progress_and_comments_in_place(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "lead")
    page.goto(f"/projects/{COMMITTED}")
    page.get_by_label("RAG status").select_option("amber")
    page.get_by_label("How it is going").fill("Waiting on the data sharing agreement.")
    page.get_by_role("button", name="Save the update").click()
    page.wait_for_selector("#owner-progress .rag-amber")
    accessible_at_both_sizes(page, "project page with progress and discussion")

    page.evaluate("() => { window.noReload = true; }")
    page.get_by_label("Add a comment").fill("Looks **good**; see [the plan](https://example.org)")
    page.get_by_role("button", name="Post the comment").click()
    page.wait_for_selector("#discussion .comment-body strong")
    assert page.evaluate("() => window.noReload === true")  # htmx swapped it in place
    link = page.locator("#discussion .comment-body a")
    assert link.get_attribute("rel") == "noopener nofollow"
    accessible_at_both_sizes(page, "project page after a comment")

    page.get_by_label("Add a comment").fill("")
    page.get_by_role("button", name="Post the comment").click()
    page.wait_for_selector("#discussion .error-summary")
    accessible_at_both_sizes(page, "discussion with an error")


def test_notifications_page_account_choices_and_bell(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "cdo")
    page.goto(f"/projects/{COMMITTED}")
    page.get_by_role("button", name="Watch this project").click()
    page.wait_for_selector("text=Stop watching")
    page.goto("/notifications")
    assert re.search("Notifications", page.title())
    accessible_at_both_sizes(page, "notifications page")
    page.goto("/account")
    page.get_by_label("A comment on a project I watch").select_option("email")
    page.get_by_role("button", name="Save notification choices").click()
    page.wait_for_selector("#flash")
    accessible_at_both_sizes(page, "account page with notification choices")
    page.goto("/dashboard")
    page.wait_for_selector("#rag-title")
    page.goto("/backlog?view=committed")
    accessible_at_both_sizes(page, "committed backlog with latest progress")


def focused(page) -> str:  # type: ignore[no-untyped-def]
    """Return the focused element as tag#id.class: text, for a readable assertion."""
    return page.evaluate("""() => { const e = document.activeElement;
        const text = (e.textContent || '').trim().slice(0, 60);
        return `${e.tagName}#${e.id}.${e.className}: ${text}`; }""")


# Found in review: after posting, editing or refusing a comment, or watching, htmx swapped the
# section and focus fell back to the page itself: a keyboard user started again at the top.
def test_the_discussion_and_the_watch_button_keep_a_keyboard_user_where_they_were(
        page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "lead")
    page.goto(f"/projects/{COMMITTED}")
    page.get_by_label("Add a comment").fill("")
    page.get_by_role("button", name="Post the comment").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#discussion [aria-invalid='true']")
    # Focus moves once the swap settles: waited for, so a focus left on the page fails here.
    page.wait_for_function("() => document.activeElement.id === 'c-body'")
    page.keyboard.type("Keyboard only, as promised.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.matches(\"#discussion .notice\")"
                           " && document.activeElement.textContent.includes('is posted')")
    watch = page.locator("#watch button")
    before = watch.inner_text()
    watch.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("(was) => document.querySelector('#watch button').textContent.trim()"
                           " !== was", arg=before)
    page.wait_for_function("() => document.activeElement.closest('#watch') !== null")
    assert focused(page).startswith("BUTTON"), focused(page)
    assert re.search("Watch this project|Stop watching", focused(page)), focused(page)


# Found in review: a stage recorded came back to the page's IG section with its confirmation
# at the top of the page, a thousand pixels above, unseen and unread.
def test_a_saved_stage_is_confirmed_where_the_page_opens(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "lead")
    page.goto(f"/projects/{COMMITTED}#ig")
    page.locator("#ig summary", has_text="Record a stage").click()
    page.locator("#ig .ig-form button[type=submit]").first.click()
    page.wait_for_url(re.compile("#ig$"))
    page.wait_for_function("() => document.activeElement.id === 'flash'")
    assert page.evaluate("() => document.getElementById('ig').contains("
                         "document.getElementById('flash'))")


# Found in review: on a phone the unread count hid in the closed menu, and "Mark read" reloaded
# the list at its top, away from the notification marked.
def test_a_phone_shows_the_unread_count_and_mark_read_stays_at_the_notification(
        page, browser, live_server: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "cdo")
    page.goto("/projects/bd-propensity-to-pay")
    page.get_by_label("Add a comment").fill("Phone check: which datasets does this rest on?")
    page.get_by_role("button", name="Post the comment").click()
    page.wait_for_selector("#discussion .notice")
    lead = browser.new_context(base_url=live_server, viewport=PHONE, bypass_csp=True)
    lead.set_default_timeout(STEP_TIMEOUT_MS)
    tab = lead.new_page()
    try:
        sign_in(tab, "lead")
        menu = tab.locator("header .menu-button")
        for _ in range(50):  # the notification is fanned out just after the comment commits
            tab.goto("/notifications")
            if tab.locator("li.unread", has_text="Phone check").count():
                break
            tab.wait_for_timeout(100)
        expect(menu).to_be_visible()
        expect(menu).to_contain_text("unread")
        item = tab.locator("li.unread", has_text="Phone check")
        item.get_by_role("button", name=re.compile("^Mark read")).click()
        tab.wait_for_function("() => document.activeElement.id === 'flash'")
        flash = tab.locator("#flash")
        expect(flash).to_contain_text("1 notification marked read")
        assert tab.evaluate("() => document.activeElement.closest('li') !== null")
        expect(flash).to_be_in_viewport()
        assert_accessible(tab, "notifications after marking one read (phone)")
    finally:
        lead.close()


# Found in review: the header shows who is signed in beside the name and the navigation on the
# line below, but Tab went through the navigation first: focus jumped down, then back up.
def test_the_headers_tab_order_follows_what_is_seen(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, "cdo")
    page.goto("/notifications")
    page.locator("header .brand").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "bell", focused(page)
    brand, bell, nav = (page.locator(selector).bounding_box()
                        for selector in ("header .brand", "#bell", "header nav a >> nth=0"))
    assert bell["y"] < nav["y"]  # the order seen: the name's line, then the navigation's
