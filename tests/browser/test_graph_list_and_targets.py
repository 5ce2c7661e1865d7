"""An accessibility review: the graph's list, the Watch status, small targets, bubbles."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 900}
NARROWEST = {"width": 320, "height": 640}
# A project no other browser test watches, so its Watch button starts unpressed.
WATCHED = "lewisham-damp-mould-risk"


def open_graph(page: Page) -> None:
    """Open the graph page and wait until it is drawn."""
    page.goto("/graph")
    expect(page.locator("#graph-status")).to_contain_text("drawn", timeout=30_000)


def match_region(page: Page) -> object:
    """Return the status region of the graph's list, marked so a swapped-in copy is told apart."""
    region = page.locator(".graph-list [role='status']")
    expect(region).to_have_count(1)
    assert region.get_attribute("aria-live") in (None, "polite")
    region.evaluate("(r) => { window.matchRegion = r; }")
    return region


# 1. WCAG 4.1.3: typing re-filled the list with no status message saying how many match.
def test_typing_in_the_graph_search_says_how_many_projects_match_in_one_live_region(
        opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("researcher", WIDE)
    open_graph(page)
    region = match_region(page)
    page.get_by_label("Title contains").fill("zzzz-no-such-title")
    expect(region).to_have_text("No project title contains that.")
    page.get_by_label("Title contains").fill("Datastore")
    shown = page.locator("#graph-projects button").count()
    assert shown >= 1
    expect(region).to_have_text(f"{shown} project{'' if shown == 1 else 's'}"
                                f" match{'es' if shown == 1 else ''}.")
    # The same element changed its words: a region swapped in whole may go unannounced.
    assert region.evaluate("(r) => r === window.matchRegion && r.isConnected")


# 2. Only the selected button had aria-pressed, so the rest were not toggle buttons.
def test_every_graph_list_button_is_a_toggle_and_only_the_selected_one_is_pressed(
        opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("researcher", WIDE)
    open_graph(page)
    buttons = page.locator("#graph-projects button")
    expect(buttons.first).to_be_visible()
    assert set(buttons.evaluate_all("(bs) => bs.map((b) => b.getAttribute('aria-pressed'))")) \
        == {"false"}
    buttons.nth(1).click()
    expect(page.locator("#graph-selected h3")).to_be_visible()
    pressed = buttons.evaluate_all("(bs) => bs.map((b) => b.getAttribute('aria-pressed'))")
    assert pressed[1] == "true"
    assert pressed[:1] + pressed[2:] == ["false"] * (len(pressed) - 1)
    # The selection outlives a search that keeps it in the list.
    chosen = buttons.nth(1).inner_text()
    page.get_by_label("Title contains").fill(chosen)
    expect(page.locator("#graph-projects button", has_text=chosen).first).to_have_attribute(
        "aria-pressed", "true")


# 3. "You watch this project" came in a new element with the htmx swap: maybe never announced.
def test_watching_changes_the_words_of_a_status_region_that_stays_in_the_page(
        opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("researcher", WIDE)
    page.goto(f"/projects/{WATCHED}")
    status = page.locator("#watch [role='status']")
    expect(status).to_have_count(1)
    status.evaluate("(s) => { window.watchStatus = s; }")
    page.get_by_role("button", name="Watch this project").click()
    expect(page.get_by_role("button", name="Stop watching")).to_be_visible()
    expect(status).to_contain_text("You watch this project")
    assert status.evaluate("(s) => s === window.watchStatus && s.isConnected")
    page.get_by_role("button", name="Stop watching").click()
    expect(page.get_by_role("button", name="Watch this project")).to_be_visible()
    expect(status).to_contain_text("You no longer watch this project")
    assert status.evaluate("(s) => s === window.watchStatus && s.isConnected")


# 4. WCAG 2.5.8: the Active checkbox of each user was 13 by 13 px.
@pytest.mark.parametrize("viewport", [WIDE, NARROWEST], ids=["1280", "320"])
def test_a_users_may_sign_in_checkbox_is_at_least_24px_square(
        opened, viewport: dict) -> None:  # type: ignore[no-untyped-def]
    page = opened("admin", viewport)
    page.goto("/admin/users")
    boxes = page.locator("main table input[type='checkbox']")
    expect(boxes.first).to_be_attached()
    sizes = boxes.evaluate_all("(bs) => bs.map((b) => { const r = b.getBoundingClientRect();"
                               " return [r.width, r.height]; })")
    small = [size for size in sizes if min(size) < 24]
    assert not small, f"checkboxes smaller than 24px: {small[:3]}"
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    # The box still sits on the line of its label.
    box, label = page.locator("main table input[type='checkbox']").first.evaluate(
        "(b) => [b.getBoundingClientRect(), document.querySelector(`label[for='${b.id}']`)"
        ".getBoundingClientRect()].map((r) => (r.top + r.bottom) / 2)")
    assert abs(box - label) <= 6, (box, label)


MARKER = (255, 0, 255)


def shows_marker(png: bytes) -> bool:
    """Say whether any pixel of a screenshot is close to the marker colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return any(abs(r - MARKER[0]) + abs(g - MARKER[1]) + abs(b - MARKER[2]) < 120
               for r, g, b in image.get_flattened_data())


# 5. WCAG 2.4.11: at 1280 some bubbles were entirely covered by later ones when focused.
def test_a_focused_bubble_on_the_dashboard_is_never_entirely_hidden(
        opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("cdo", WIDE)
    page.goto("/dashboard")
    links = page.locator("svg.chart a.bubble-link")
    expect(links.first).to_be_attached()
    hidden = []
    for index in range(links.count()):
        link = links.nth(index)
        link.focus()
        # Fill the focused bubble with a colour no bubble has, then look for it on screen. Its
        # outline is left as it is: a ring peeking out round a bubble on top of it is not seen
        # as this bubble, its black indistinguishable from the other bubble's own.
        circle = link.locator("circle")
        circle.evaluate("(c) => { c.dataset.was = c.getAttribute('style') || '';"
                        " c.style.fill = 'rgb(255, 0, 255)'; c.style.fillOpacity = '1'; }")
        box = circle.bounding_box()
        assert box
        if not shows_marker(page.screenshot(clip=box)):
            hidden.append(link.get_attribute("aria-label"))
        circle.evaluate("(c) => c.setAttribute('style', c.dataset.was)")
    assert not hidden, f"focused bubbles entirely hidden: {hidden}"
