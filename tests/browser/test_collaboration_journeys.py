"""Collaboration journeys in a real headless Chromium: the registration panel as a lead types."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_a_lead_typing_a_new_project_sees_who_else_does_it_and_asks_to_partner(
    page: Page,
) -> None:
    sign_in(page, "lead")
    page.goto("/projects/new")
    panel = page.locator("#similar-results")
    expect(panel).to_contain_text("Type a title")
    page.get_by_label("Owner organisation").select_option("E09000002")
    page.get_by_label("Title", exact=True).press_sequentially("Rogue landlord detection")
    page.get_by_label("Description").fill(
        "Find private landlords breaking housing standards from complaints and licensing data")
    expect(panel).to_contain_text("Rogue landlord detection")
    expect(panel).to_contain_text("Westminster")
    expect(panel).not_to_contain_text("Machine learning to find rogue landlords")  # its own
    page.get_by_role("button", name="We will partner with Westminster").click()
    # A partner's lead assesses the project: Westminster's side consents first.
    expect(panel.get_by_role("status")).to_contain_text(
        "Barking and Dagenham has asked to partner in Rogue landlord detection: it becomes a "
        "partner when a lead of Westminster accepts")


def test_collaboration_filters_by_theme_without_a_page_load(page: Page) -> None:
    sign_in(page, "cdo")
    page.goto("/collaboration")
    expect(page.locator("#groups")).to_contain_text("Suggested lead")
    page.get_by_label("Theme").select_option("children_education")
    expect(page).to_have_url(re.compile(r"theme=children_education"))
    expect(page.locator("#groups")).to_contain_text("School place planning")
    expect(page.locator("#groups")).not_to_contain_text("Damp and mould")
