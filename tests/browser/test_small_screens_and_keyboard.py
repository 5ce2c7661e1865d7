"""Defects found in review: controls that cannot be seen, narrow screens, Escape, sticky columns."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import DESKTOP

pytestmark = pytest.mark.browser

# The browser lead's borough; no other browser module writes to its discussion.
DISCUSSED = "bd-community-solutions-demand"
# One word longer than a phone is wide: a title nobody would write, but one the form accepts.
LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosisdatastorereplatforming"
LONG_SLUG = "bd-long-word-title"
NARROWEST = {"width": 320, "height": 640}
SMALL = {"width": 375, "height": 700}


# The contrast of an element's text against the first background behind it that is not
# transparent (WCAG 2 relative luminance).
CONTRAST = """(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((c) => { c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  let behind = element, back = null;
  while (behind) {
    const colour = rgb(getComputedStyle(behind).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) { back = colour; break; }
    behind = behind.parentElement;
  }
  back = back || [255, 255, 255];
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def post_comment(page: Page, text: str) -> None:
    """Post a comment on the discussed project and wait for it in the discussion."""
    page.goto(f"/projects/{DISCUSSED}")
    page.get_by_label("Add a comment").fill(text)
    page.get_by_role("button", name="Post the comment").click()
    expect(page.locator("#discussion li", has_text=text)).to_be_visible()
    # Once the swap settles the page moves focus to its confirmation; wait for that, as a
    # keyboard user would, or a focus given now is taken away 20 ms later.
    expect(page.locator("#discussion .notice", has_text="Your comment is posted.")).to_be_focused()


# 1. The header's white link-button style reached buttons in the page: white on white.
def test_a_comments_remove_button_and_mark_read_are_legible(opened) -> None:  # type: ignore[no-untyped-def]
    cdo = opened("cdo", DESKTOP)
    post_comment(cdo, "Legibility check: who holds the demand data?")
    remove = cdo.locator("#discussion li", has_text="Legibility check").get_by_role(
        "button", name=re.compile("^Remove"))
    expect(remove).to_be_visible()
    assert remove.evaluate(CONTRAST) >= 4.5

    lead = opened("lead", DESKTOP)
    item = lead.locator("li.unread", has_text="Legibility check")
    for _ in range(50):  # the notification is fanned out just after the comment commits
        lead.goto("/notifications")
        if item.count():
            break
        lead.wait_for_timeout(100)
    mark = item.get_by_role("button", name=re.compile("^Mark read"))
    expect(mark).to_be_visible()
    assert mark.evaluate(CONTRAST) >= 4.5
    # The header's own link-button (Sign out) keeps its white on black.
    assert lead.locator("header .who button.link").evaluate(CONTRAST) >= 4.5


def register_long_word_title(page: Page) -> None:
    """Register an idea whose title is one word longer than a phone is wide."""
    page.goto("/projects/new")
    page.get_by_label("Short name (slug)").fill(LONG_SLUG)
    page.get_by_label("Title", exact=True).fill(f"{LONG_WORD} pilot")
    page.get_by_label("Owner organisation").select_option("E09000002")
    page.get_by_label("Theme", exact=True).select_option("housing")
    page.get_by_label("Status", exact=True).select_option("idea")
    page.get_by_role("button", name="Register the project").click()
    expect(page).to_have_url(re.compile(rf"/projects/{LONG_SLUG}/edit"))


@pytest.fixture(scope="module")
def long_title(opened) -> str:  # type: ignore[no-untyped-def]
    """Register the project with a long word in its title once; return the word."""
    register_long_word_title(opened("lead", DESKTOP))
    return LONG_WORD


def title_cell_width(page: Page, table: str) -> float:
    """Return the width of the cell holding the long-titled project's link."""
    cell = page.locator(f"{table} td", has=page.locator(f"a[href$='/projects/{LONG_SLUG}']"))
    expect(cell).to_have_count(1)
    return cell.evaluate("(c) => c.getBoundingClientRect().width")


# 2. An unbroken word held the sticky title cell at its full length (about 800 px), cut off.
def test_a_long_word_in_a_title_wraps_in_the_projects_list_and_backlog_at_320(
        opened, long_title: str) -> None:  # type: ignore[no-untyped-def]
    page = opened("cdo", NARROWEST)
    # The sticky title column leaves most of the screen to the columns scrolling beside it.
    page.goto(f"/?q={long_title}")
    assert title_cell_width(page, "table.projects") <= NARROWEST["width"] * 0.6
    page.goto(f"/backlog?q={long_title}")
    assert title_cell_width(page, "table.backlog") <= NARROWEST["width"] * 0.6


# 3. The comparison's facts forced the page 30 px wider than a phone, values a letter a line.
def test_comparing_two_profiles_fits_a_320_screen(opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("cdo", NARROWEST)
    page.goto("/profiles/compare?a=CDO+default&b=Cost+of+living")
    expect(page.locator("dl.facts")).to_be_visible()
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    # A value has room for a few words on a line, not one letter.
    for width in page.locator("dl.facts dd").evaluate_all(
            "(dds) => dds.map((d) => d.getBoundingClientRect().width)"):
        assert width >= 100, width


def open_first_why(page: Page) -> object:
    """Open the first backlog row's Why? panel by keyboard; return its toggle."""
    page.goto("/backlog")
    toggle = page.locator("a.why-toggle").first
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("tr.why-row").first).to_contain_text("Blocked by")
    return toggle


# 4. The Why? panel took the width of the whole scrolling table (about 1000 px) on a phone.
def test_the_backlog_why_panel_wraps_to_a_320_screen(opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("cdo", NARROWEST)
    open_first_why(page)
    panel = page.locator("tr.why-row .why").first
    box = panel.evaluate("(p) => { const r = p.getBoundingClientRect();"
                         " return {left: r.left, right: r.right}; }")
    assert box["left"] >= 0 and box["right"] <= NARROWEST["width"], box


# 5. Escape left a Why? open (the phone menu already closes on Escape).
def test_escape_closes_an_open_why_and_returns_to_its_toggle(opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("cdo", DESKTOP)
    toggle = open_first_why(page)
    page.locator("tr.why-row .why a").first.focus()  # reading the panel
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("tr.why-row").first).to_be_hidden()
    expect(toggle).to_be_focused()


def test_escape_closes_a_comments_edit_and_returns_to_its_summary(opened) -> None:  # type: ignore[no-untyped-def]
    page = opened("lead", DESKTOP)
    post_comment(page, "Escape check: edit me, then think better of it.")
    comment = page.locator("#discussion li", has_text="Escape check")
    summary = comment.locator("summary", has_text="Edit")
    summary.focus()
    page.keyboard.press("Enter")
    box = comment.get_by_label("Your comment")
    expect(box).to_be_visible()
    box.focus()
    page.keyboard.press("Escape")
    expect(comment.locator("details")).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()


# 6. WCAG 2.4.11: a control focused in a table hid entirely under its sticky first column.
HIDDEN_UNDER_STICKY = """(control) => {
  const box = control.getBoundingClientRect();
  const row = control.closest('tr');
  let covered = -Infinity;
  for (const cell of row.cells) {
    if (cell.contains(control) || getComputedStyle(cell).position !== 'sticky') continue;
    covered = Math.max(covered, cell.getBoundingClientRect().right);
  }
  const scroller = control.closest('table').getBoundingClientRect();
  const left = Math.max(box.left, covered, scroller.left);
  const right = Math.min(box.right, scroller.right);
  return right - left;  // how much of the control shows, in px
}"""


def tab_through_table(page: Page, table: str, first: str) -> list[tuple[str, float]]:
    """Tab from a table's first control to its last; return what shows of each, in px."""
    page.locator(first).first.focus()
    shown = []
    for _ in range(400):
        inside = page.evaluate("(t) => !!document.activeElement.closest(t)", table)
        if not inside:
            break
        name = page.evaluate("() => { const e = document.activeElement; return"
                             " `${e.tagName} ${e.id || e.textContent.trim().slice(0, 30)}`; }")
        showing = page.evaluate(f"() => ({HIDDEN_UNDER_STICKY})(document.activeElement)")
        shown.append((name, showing))
        page.keyboard.press("Tab")
    return shown


@pytest.mark.parametrize(("path", "role", "viewport", "table", "first"), [
    ("/admin/users", "admin", SMALL, "main table", "main table select"),
    ("/admin/users", "admin", NARROWEST, "main table", "main table select"),
    ("/", "cdo", SMALL, "table.projects", "table.projects tbody td:nth-child(2) a"),
    ("/backlog", "cdo", NARROWEST, "table.backlog", "table.backlog tbody a.why-toggle"),
], ids=["users-375", "users-320", "projects-375", "backlog-320"])
def test_a_control_focused_in_a_table_is_not_hidden_by_its_sticky_column(
        opened, path: str, role: str, viewport: dict, table: str, first: str) -> None:  # type: ignore[no-untyped-def]
    page = opened(role, viewport)
    page.goto(path)
    shown = tab_through_table(page, table, first)
    assert shown, "no control of the table took focus"
    hidden = [(name, px) for name, px in shown if px < 8]
    assert not hidden, f"hidden (or all but a sliver) under the sticky column: {hidden[:5]}"
