"""Documents and several assessors in a real browser: the pages pass axe at desktop and phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import documents
from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

PROJECT = "bd-one-view-phase-2"


@pytest.fixture
def page(browser, live_server: str) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A page that lets axe-core's injected script past the app's CSP (the app's own stays)."""
    context = browser.new_context(base_url=live_server, bypass_csp=True,
                                  viewport={"width": 1200, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def check_both_sizes(page: Page, state: str) -> None:
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        assert_accessible(page, f"{state} ({name})")


def test_a_lead_attaches_a_document_after_a_refusal_and_the_pages_stay_accessible(
    page: Page, tmp_path: Path,
) -> None:
    program = tmp_path / "business-case.pdf"
    program.write_bytes(documents.EXE)
    good = tmp_path / "Business case.pdf"
    good.write_bytes(documents.PDF)
    sign_in(page, "lead")
    page.goto(f"/attachments/project/{PROJECT}")
    check_both_sizes(page, "the documents page")

    page.get_by_label("What the document is").select_option("business_case")
    page.get_by_label("File").set_input_files(str(program))
    page.get_by_role("button", name="Attach the document").click()
    expect(page.locator("#d-file-error")).to_contain_text("Windows program")
    check_both_sizes(page, "the documents page refusing a program")

    page.get_by_label("What the document is").select_option("business_case")
    page.get_by_label("File").set_input_files(str(good))
    page.get_by_role("button", name="Attach the document").click()
    expect(page.get_by_role("link", name="Business case.pdf")).to_be_visible()
    check_both_sizes(page, "the documents page listing a document")

    page.goto(f"/projects/{PROJECT}")
    expect(page.locator("#documents")).to_contain_text("Business case.pdf")
    check_both_sizes(page, "the project page with documents")


def test_the_project_page_shows_where_assessors_disagree(page: Page) -> None:
    sign_in(page, "cdo")
    response = page.request.get("/api/v1/projects/" + PROJECT)
    levels = {a["criterion"]: a["level"] for a in response.json()["assessments"]}
    criterion = next(iter(levels))
    other = 1 if levels[criterion] >= 3 else 5
    page.goto(f"/projects/{PROJECT}/edit")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(f"/projects/{PROJECT}/assessments", form={
        "criterion": criterion, "level": str(other), "csrf_token": token or "",
        "rationale": "The CDO's analyst reads it differently."})
    assert answer.ok, answer.text()
    page.goto(f"/projects/{PROJECT}")
    expect(page.locator("#assessments-caption")).to_be_visible()
    expect(page.get_by_text("assessors disagree:").first).to_be_visible()
    check_both_sizes(page, "the project page with disagreeing assessors")
