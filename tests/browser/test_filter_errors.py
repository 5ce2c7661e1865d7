"""A filter naming nothing, corrected in the form: the message goes with the page it was on."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("path", "label", "choice"), [
    ("/?theme=nonsense", "Theme", "housing"),
    ("/backlog?theme=nonsense", "Theme", "housing"),
    ("/datasets?access=bogus", "Access", "open"),
    ("/collaboration?theme=nonsense", "Theme", "housing"),
], ids=["projects", "backlog", "datasets", "collaboration"])
def test_choosing_a_real_value_clears_the_message_of_the_one_naming_nothing(
        page: Page, path: str, label: str, choice: str) -> None:
    # htmx swapped only the list, so the message and its summary stayed beside a good choice.
    sign_in(page, "researcher")
    page.goto(path)
    expect(page.locator(".error-summary")).to_be_visible()

    page.get_by_label(label, exact=True).select_option(choice)  # htmx reloads the list

    expect(page.locator(".error-summary")).to_have_count(0)
    expect(page.locator(".field-error:not(:empty)")).to_have_count(0)
    expect(page.get_by_label(label, exact=True)).to_have_value(choice)
    expect(page.get_by_label(label, exact=True)).not_to_have_attribute("aria-invalid", "true")
