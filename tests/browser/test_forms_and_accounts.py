"""Forms that offer only what the user may do, keep their input and say what is wrong; accounts.

Issue 14, items 1-4, 9 and 11: each test fails on the pages as they were and passes now; the
forms' error states pass axe at desktop and phone widths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser

CAMDEN_PROJECT = "/projects/camden-residents-index-refresh"


def open_tab(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """Open a browser tab on the live server into which axe-core can be injected.

    The app's Content-Security-Policy refuses inline scripts, as it should; the test's own
    script (axe) is let in by bypassing it in this test browser only.
    """
    context = browser.new_context(base_url=live_server, viewport={"width": 1200, "height": 900},
                                  bypass_csp=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """Open a tab that axe can check."""
    yield from open_tab(browser, live_server)


@pytest.fixture
def second(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """Open a second person's browser beside the first."""
    yield from open_tab(browser, live_server)


def accessible_at_both_widths(page: Page, state: str) -> None:
    """Run axe on the page at phone and desktop widths, leaving it at desktop width."""
    page.set_viewport_size(PHONE)
    assert_accessible(page, f"{state} at phone width")
    page.set_viewport_size(DESKTOP)
    assert_accessible(page, f"{state} at desktop width")


def test_a_lead_is_not_offered_another_boroughs_editor_and_is_told_why(page: Page) -> None:
    sign_in(page, "lead")
    page.goto(CAMDEN_PROJECT)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Edit the project"))).to_have_count(0)
    page.goto(CAMDEN_PROJECT + "/edit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_contain_text(
        "A lead may not edit projects for another organisation")
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)


def test_a_leads_register_form_offers_their_organisation_and_its_errors_are_accessible(
        page: Page) -> None:
    sign_in(page, "lead")
    page.goto("/projects/new")
    owner = page.get_by_label("Owner organisation")
    expect(owner.locator("option:not([value=''])")).to_have_text(["Barking and Dagenham"])
    expect(owner).to_have_value("E09000002")
    page.get_by_label("Cost estimate (GBP)").fill("-5000")
    page.get_by_label("Start date").fill("1800-01-01")
    page.get_by_role("button", name="Register the project").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Start date: Enter a date between 2000 and 2075")
    expect(summary).to_contain_text("Cost estimate (GBP): Enter 0 or more")
    expect(page).to_have_url(re.compile(r"/projects/new$"))
    accessible_at_both_widths(page, "the register form with its errors")


def register(page: Page, slug: str, title: str) -> None:
    """Register an idea for Barking and Dagenham as its lead; land on its edit page."""
    page.goto("/projects/new")
    page.get_by_label("Short name (slug)").fill(slug)
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Theme", exact=True).select_option("housing")
    page.get_by_role("button", name="Register the project").click()
    expect(page).to_have_url(re.compile(rf"/projects/{slug}/edit"))


def test_an_assessment_without_a_level_is_refused_in_place_and_leaving_warns(page: Page) -> None:
    sign_in(page, "lead")
    register(page, "bd-assess-without-level", "Assessed without a level")
    form = page.locator("form.assess").first
    form.get_by_label("Rationale").fill("Typed, not yet saved")
    form.get_by_role("button", name=re.compile("^Save")).click()
    form = page.locator("form.assess").first
    error = form.locator(".field-error").first
    expect(error).to_have_text("Error: Choose the level whose description fits.")
    expect(form.locator("input[type=radio]").first).to_be_focused()
    expect(form.get_by_label("Rationale")).to_have_value("Typed, not yet saved")
    expect(page).to_have_url(re.compile(r"/projects/bd-assess-without-level/edit"))
    accessible_at_both_widths(page, "an assessment refused on the edit page")

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page).to_have_url(re.compile("/edit"))
    assert dialogs == ["beforeunload"]


def test_typing_in_a_link_form_warns_before_leaving(page: Page) -> None:
    sign_in(page, "lead")
    page.goto("/projects/bd-one-view-phase-2/edit")
    page.get_by_label("Note").fill("A note I have not added yet")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    expect(page).to_have_url(re.compile("/edit"))
    assert dialogs == ["beforeunload"]


def test_a_token_is_made_once_named_uniquely_and_revoked_after_asking(page: Page) -> None:
    sign_in(page, "cdo")
    page.goto("/account")
    page.get_by_label("Token name").fill("browser nightly")
    page.get_by_role("button", name="Create a token").click()
    expect(page).to_have_url(re.compile(r"/account#token-created$"))
    expect(page.locator("#token-created")).to_contain_text("Copy it now")
    page.reload()
    expect(page.locator("#token-created")).to_have_count(0)
    expect(page.get_by_role("cell", name="browser nightly", exact=True)).to_have_count(1)

    page.get_by_label("Token name").fill("browser nightly")
    page.get_by_role("button", name="Create a token").click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Token name")).to_have_value("browser nightly")
    accessible_at_both_widths(page, "the account page refusing a token name")

    page.get_by_role("link", name="Revoke the token “browser nightly”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Revoke the token “browser nightly”?")
    accessible_at_both_widths(page, "the revoke confirmation")
    page.get_by_role("button", name="Revoke the token").click()
    expect(page.locator("#flash")).to_contain_text("is revoked")


def test_a_new_user_chooses_their_own_password_at_first_sign_in(page: Page, second: Page) -> None:
    sign_in(page, "admin")
    page.goto("/admin/users")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Add the user").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Email: Enter an email address")
    expect(page.get_by_label("Email")).to_have_value("not an email")
    accessible_at_both_widths(page, "the users page refusing a new user")
    page.get_by_label("Email").fill("first.time@example.london")
    page.get_by_label("Name", exact=True).fill("First Time")
    page.get_by_label("First password").fill("given by the admin")
    page.get_by_role("button", name="Add the user").click()
    expect(page.locator("#flash")).to_contain_text("First Time (first.time@example.london)")

    second.goto("/login")
    second.get_by_label("Email").fill("first.time@example.london")
    second.get_by_label("Password").fill("given by the admin")
    second.get_by_role("button", name="Sign in").click()
    expect(second.get_by_role("heading", level=1)).to_have_text("Choose your own password")
    second.get_by_label("The password you signed in with").fill("given by the admin")
    second.get_by_label("New password", exact=True).fill("short")
    second.get_by_role("button", name="Save my password").click()
    expect(second.locator(".error-summary")).to_be_focused()
    accessible_at_both_widths(second, "the first password form with its errors")
    second.get_by_label("The password you signed in with").fill("given by the admin")
    second.get_by_label("New password", exact=True).fill("my very own passphrase")
    second.get_by_label("New password again").fill("my very own passphrase")
    second.get_by_role("button", name="Save my password").click()
    expect(second.locator("#flash")).to_contain_text("Your password is changed")


def test_the_sign_in_error_starts_with_a_capital(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("nobody@example.london")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")


# Found in review: a refused sign-in's message had tabindex -1 but never took focus, so a
# keyboard or screen-reader user was not told at once why they were still on the page.
def test_a_refused_sign_in_focuses_why(page: Page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("nobody.here@example.london")
    page.get_by_label("Password").fill("not the password")
    page.keyboard.press("Enter")
    page.wait_for_selector("#login-error")
    page.wait_for_function("() => document.activeElement.id === 'login-error'")


def test_a_summary_link_focuses_its_field_with_the_label_in_view(page: Page) -> None:
    sign_in(page, "lead")
    page.set_viewport_size({"width": 1280, "height": 500})
    page.goto("/projects/new")
    page.get_by_label("Cost estimate (GBP)").fill("-5000")
    page.get_by_role("button", name="Register the project").click()
    page.locator(".error-summary a", has_text="Cost estimate (GBP)").click()
    cost = page.get_by_label("Cost estimate (GBP)")
    expect(cost).to_be_focused()
    # The question is read with its answer: the label stays on screen above the field.
    label = page.locator("label", has_text="Cost estimate (GBP)")
    expect(label).to_be_in_viewport()
