"""The main journeys in a real headless Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser

SLUG = "debt-advice-referrals"
TITLE = "Debt advice referrals from council tax arrears"


def test_a_lead_registers_a_project_links_a_dataset_and_a_dependency_and_finds_it(
    page: Page,
) -> None:
    sign_in(page, "lead")
    page.goto("/projects/new")
    page.get_by_label("Short name (slug)").fill(SLUG)
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Owner organisation").select_option("E09000002")
    page.get_by_label("Theme", exact=True).select_option("cost_of_living")
    page.get_by_label("Status", exact=True).select_option("proposed")
    page.get_by_label("Cost estimate (GBP)").fill("120,000")
    page.get_by_role("button", name="Register the project").click()
    expect(page).to_have_url(re.compile(rf"/projects/{SLUG}/edit\?created=1$"))
    expect(page.get_by_role("status")).to_contain_text("The project is registered")

    page.get_by_label("Project it depends on").press_sequentially("datastore launch")
    page.locator("#dep-depends_on-picks button[data-pick-value='london-datastore-launch']").click()
    expect(page.get_by_label("Project it depends on")).to_have_value("london-datastore-launch")
    page.get_by_role("button", name="Add the dependency").click()
    expect(page.locator("#sec-dependencies [role=status]")).to_have_text(
        "The dependency is added.")
    expect(page.locator("ul.links")).to_contain_text("London Datastore launch")
    # The saved section's confirmation takes focus once htmx settles (app.js): typing into
    # the next field before then lost the keys that came after the move (a CI run, once).
    expect(page.locator("#sec-dependencies [role=status]")).to_be_focused()

    page.get_by_label("Dataset", exact=True).press_sequentially("indices of deprivation")
    pick = "#ds-dataset-picks button[data-pick-value='english-indices-of-deprivation-2019']"
    page.locator(pick).click()
    page.get_by_label("Fit for the task").select_option("fit")
    page.get_by_role("button", name="Link the dataset").click()
    expect(page.locator("section[aria-labelledby=datasets] table")).to_contain_text(
        "English Indices of Deprivation 2019"
    )

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    page.get_by_label("Search projects").fill("council tax arrears")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator("main")).to_contain_text("London Datastore launch")


def test_the_cdo_approves_a_project_and_it_leaves_the_review_queue(page: Page) -> None:
    sign_in(page, "cdo")
    page.goto("/reviews")
    awaiting = page.locator("#awaiting-table")
    first = awaiting.locator("tbody tr a").first
    title = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)

    page.get_by_label("Approve").check()
    page.get_by_label("Rationale").fill("Quick win that the boroughs asked for; funded this year.")
    page.get_by_role("button", name="Record the decision").click()
    # Deciding from the queue goes on to the next project in it.
    expect(page.locator("#flash")).to_contain_text("Decision recorded: approve")
    expect(page.get_by_role("heading", level=1)).not_to_have_text(title)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reviews").click()
    expect(page.locator("#awaiting-table")).not_to_contain_text(title)
    decided = page.locator("#decided-table")
    expect(decided).to_contain_text(title)
    expect(decided).to_contain_text("Quick win that the boroughs asked for")


def test_validation_shows_an_error_by_the_field_without_a_page_load(page: Page) -> None:
    sign_in(page, "lead")
    page.goto("/projects/new")
    page.evaluate("window.sameDocument = true")
    cost = page.get_by_label("Cost estimate (GBP)")
    cost.fill("-5")
    cost.press("Tab")
    error = page.locator("#f-cost_gbp-error")
    expect(error).to_contain_text("Enter 0 or more")
    expect(cost).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.sameDocument") is True

    cost.fill("5000")
    cost.press("Tab")
    expect(error).to_have_text("")
    expect(cost).not_to_have_attribute("aria-invalid", "true")
    assert page.evaluate("window.sameDocument") is True


def ranked_order(page: Page) -> list[str]:
    return page.locator("table.backlog tbody tr[data-slug]").evaluate_all(
        "rows => rows.map(r => r.dataset.slug)")


def test_the_cdo_moves_a_weight_slider_and_the_order_changes_without_a_page_load(
    page: Page,
) -> None:
    sign_in(page, "cdo")
    page.goto("/backlog")
    before = ranked_order(page)
    page.evaluate("window.sameDocument = true")
    slider = page.get_by_label("Feasibility", exact=True)
    slider.focus()
    for _ in range(60):
        slider.press("ArrowRight")
    expect(page.locator("#ranking-meta")).to_contain_text("What-if ranking")
    assert ranked_order(page) != before
    assert page.evaluate("window.sameDocument") is True


def test_opening_a_rows_why_loads_its_explanation_in_place(page: Page) -> None:
    sign_in(page, "cdo")
    page.goto("/backlog")
    page.evaluate("window.sameDocument = true")
    first = page.locator("table.backlog tbody tr").first
    first.get_by_text("Why?").click()
    # It opens in a full-width row under its project.
    why = page.locator("table.backlog tr.why-row").first.locator(".why")
    expect(why).to_contain_text("Contributions (points)")
    expect(why).to_contain_text("Unblocks:")
    assert page.evaluate("window.sameDocument") is True


def test_the_graph_page_draws_as_many_nodes_as_the_api_returns(page: Page) -> None:
    sign_in(page, "cdo")
    page.goto("/graph?theme=housing")
    expect(page.locator("#graph-status")).to_contain_text("nodes", timeout=20_000)
    api = page.request.get("/api/v1/graph?theme=housing").json()
    drawn = page.locator("#graph").get_attribute("data-nodes")
    assert drawn is not None and int(drawn) == len(api["nodes"]) > 0


def test_a_lead_finds_a_new_project_in_the_backlog(page: Page) -> None:
    sign_in(page, "lead")
    page.goto("/backlog?q=" + SLUG)
    expect(page.locator("table.backlog")).to_contain_text(TITLE)


PAGES_SHOWING_FREE_TEXT = [
    "/", "/projects/xss-probe", "/projects/xss-probe/edit", "/backlog?q=xss",
    "/dashboard", "/reviews", "/datasets", "/datasets/xss-dataset", "/graph?theme=housing",
    "/plan?budget=5000000&capacity=300",
]


def test_script_payloads_in_free_text_never_run(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "admin")
    for url in PAGES_SHOWING_FREE_TEXT:
        page.goto(url)
        page.wait_for_load_state("networkidle")
    assert "alert(" in page.goto("/projects/xss-probe").text()  # the payload is shown, as text
    assert dialogs == []
