"""The accessibility gate: axe-core finds nothing on any page, at desktop and phone widths."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import DESKTOP, PHONE, assert_accessible, axe_violations, describe
from tests.browser.conftest import STEP_TIMEOUT_MS, sign_in

pytestmark = pytest.mark.browser

SLUG = "bd-one-view"
DATASET = "english-indices-of-deprivation-2019"
PROFILE = "CDO default"
AGREEMENT = "london-street-works-dsa"
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}

# Every HTML page by route name: the path to visit and the role that sees it with the most
# controls. A page added to the app without an entry here fails
# test_every_page_of_the_app_is_in_the_gate.
PAGES: dict[str, tuple[str, str]] = {
    "home": ("/", "cdo"),
    "dashboard": ("/dashboard", "cdo"),
    "backlog": ("/backlog", "cdo"),
    "project": (f"/projects/{SLUG}", "cdo"),
    "project_edit": (f"/projects/{SLUG}/edit", "cdo"),
    "project_assess_page": (f"/projects/{SLUG}/assess", "cdo"),
    "project_new": ("/projects/new", "lead"),
    "project_why": (f"/projects/{SLUG}/why", "cdo"),
    "project_similar": (f"/projects/{SLUG}/similar", "cdo"),
    "project_benefits": (f"/projects/{SLUG}/benefits", "cdo"),
    "project_over_time": (f"/projects/{SLUG}/over-time", "cdo"),
    "datasets": ("/datasets", "cdo"),
    "dataset": (f"/datasets/{DATASET}", "cdo"),
    "dataset_edit": (f"/datasets/{DATASET}/edit", "cdo"),
    "graph": ("/graph", "cdo"),
    "plan": ("/plan", "cdo"),
    "plan_compare": ("/plan/compare", "cdo"),
    "plan_frontier": ("/plan/frontier?budget=1000000&capacity=100", "cdo"),
    "roadmap": ("/plan/roadmap", "cdo"),
    "capacity": ("/plan/capacity", "cdo"),
    "profiles": ("/profiles", "cdo"),
    "profile_compare": ("/profiles/compare", "cdo"),
    "profile": (f"/profiles/{PROFILE}", "cdo"),
    "profile_ahp": (f"/profiles/{PROFILE}/ahp", "cdo"),
    "reviews": ("/reviews", "cdo"),
    "collaboration_page": ("/collaboration", "cdo"),
    "benefits": ("/benefits", "cdo"),
    "over_time": ("/over-time", "cdo"),
    "changes_since_snapshot": ("/dashboard/changes", "cdo"),
    "snapshots": ("/snapshots", "cdo"),
    "snapshot": ("/snapshots/{snapshot}", "cdo"),
    "snapshot_diff": ("/snapshots/compare?a={first}&b={snapshot}", "cdo"),
    "import_projects": ("/import", "cdo"),
    "import_history": ("/imports", "cdo"),
    "import_run": ("/imports/{run}", "cdo"),
    "catalogue_harvest": ("/catalogue/harvest", "admin"),
    "account": ("/account", "cdo"),
    "users": ("/admin/users", "admin"),
    "login": ("/login", ""),
    "api_docs": ("/docs", "cdo"),
    "password_change": ("/account/password", "cdo"),
    "project_attachments": (f"/attachments/project/{SLUG}", "cdo"),
    "agreement_attachments": (f"/attachments/agreement/{AGREEMENT}", "cdo"),
    "agreements": ("/agreements", "cdo"),
    "agreement_new": ("/agreements/new", "cdo"),
    "agreement": (f"/agreements/{AGREEMENT}", "cdo"),
    "agreement_edit": (f"/agreements/{AGREEMENT}/edit", "cdo"),
    "dataset_register": ("/catalogue/register", "cdo"),
    "group_mappings": ("/admin/groups", "admin"),
    "failed_jobs": ("/admin/jobs", "admin"),
    "notifications": ("/notifications", "cdo"),
    "scenario_rename": ("/scenarios/{scenario}/rename", "cdo"),
}
# GET routes that answer with something other than a page: files, fragments, redirects.
NOT_PAGES = {
    "vendor", "static", "openapi", "healthz", "readyz", "import_template",
    "import_template_xlsx", "snapshot_download", "live_download", "board_pack", "plan_export",
    "pick_projects", "pick_datasets", "pick_organisations", "snapshot_diff_export",
    "attachment_download", "oidc_start", "oidc_callback", "import_projects_export",
    # Reached only through a link that carries its own target: the revoke confirmation is
    # checked with axe in test_forms_and_accounts; an email's signed unsubscribe link is not yet.
    "unsubscribe", "token_revoke_confirm",
}


def html_get_routes() -> set[str]:
    """Return the names of the app's GET routes outside the JSON API."""
    from tests.web.test_permissions import routes

    return {r.name for r in routes() if "GET" in r.methods and not r.path.startswith("/api/")}


def test_every_page_of_the_app_is_in_the_gate() -> None:
    # The GET answers of form posts only send a reloaded POST URL back to its page.
    missing = {name for name in html_get_routes() - set(PAGES) - NOT_PAGES
               if not name.startswith("back_") and not name.endswith("_back")}
    assert not missing, f"pages the accessibility gate does not visit: {sorted(missing)}"


@pytest.fixture(scope="module")
def signed_in(browser: Browser, live_server: str) -> Iterator[Callable[[str, dict], Page]]:
    """Open pages signed in as a role at a width, signing each role in once."""
    states: dict[str, dict] = {}
    opened = []

    def open_page(role: str, viewport: dict) -> Page:
        if role and role not in states:
            context = browser.new_context(base_url=live_server)
            context.set_default_timeout(STEP_TIMEOUT_MS)
            sign_in(context.new_page(), role)
            states[role] = context.storage_state()
            context.close()
        context = browser.new_context(base_url=live_server, viewport=viewport,
                                      storage_state=states.get(role))
        context.set_default_timeout(STEP_TIMEOUT_MS)
        opened.append(context)
        return context.new_page()

    yield open_page
    for context in opened:
        context.close()


@pytest.fixture(scope="module")
def made(signed_in: Callable[[str, dict], Page]) -> dict[str, str]:
    """Take two snapshots and run one import, so their pages have something to show."""
    page = signed_in("cdo", DESKTOP)
    ids = []
    for label in ("Gate first", "Gate second"):
        page.goto("/snapshots")
        page.get_by_label("Label").fill(label)
        page.get_by_role("button", name="Take a snapshot").click()
        page.wait_for_url(re.compile(r"/snapshots/\d+"))
        ids.append(page.url.rstrip("/").rsplit("/", 1)[-1].split("?")[0])
    page.goto("/import")
    page.get_by_label("File").set_input_files({
        "name": "gate.csv", "mimeType": "text/csv",
        "buffer": b"slug,title,owner,theme,status\ngate-import,Gate import,GLA,housing,idea\n"})
    page.get_by_label("Check only (dry run)").check()
    page.get_by_role("button", name="Check and import").click()
    page.wait_for_load_state()
    page.goto("/imports")
    link = page.locator("main table a[href*='/imports/']").first
    run = link.get_attribute("href").rstrip("/").rsplit("/", 1)[-1]
    page.goto("/plan/roadmap?budget=2000000")
    page.get_by_label("Scenario name").fill("Gate roadmap")
    page.get_by_role("button", name="Save the scenario").click()
    page.wait_for_url(re.compile(r"scenario=\d+"))
    scenario = page.url.rsplit("scenario=", 1)[-1]
    page.context.close()
    return {"first": ids[0], "snapshot": ids[1], "run": run, "scenario": scenario}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_page_has_no_axe_violations(signed_in, made, name: str, width: str) -> None:  # type: ignore[no-untyped-def]
    path, role = PAGES[name]
    page = signed_in(role, WIDTHS[width])
    response = page.goto(path.format(**made))
    # 422: a page shown with its error (a filter naming nothing) is a state to check too.
    assert response is not None and response.status in (200, 422), (
        f"{path} answered {response.status}")
    if name == "graph":
        expect(page.locator("#graph-status")).to_contain_text("drawn", timeout=30_000)
    if name == "api_docs":
        page.locator("#swagger-ui .opblock").first.wait_for()
        assert_swagger_accessible(page, f"{name} at {width}")
    else:
        assert_accessible(page, f"{name} at {width}")
    assert_fits_the_viewport(page, f"{name} at {width}")


def open_why(page: Page) -> None:
    """Open the first backlog row's Why? panel."""
    page.locator("a.why-toggle").first.click()
    expect(page.locator("tr.why-row").first).to_contain_text("Blocked by")


def show_register_errors(page: Page) -> None:
    """Submit the register form empty, so every error and the summary show."""
    page.locator("form").filter(has=page.get_by_role("button", name="Register the project")) \
        .evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Register the project").click()
    expect(page.locator(".error-summary")).to_be_visible()


def open_picker(page: Page) -> None:
    """Type into a project picker on the edit page until its suggestions show."""
    page.get_by_label("Project it depends on").press_sequentially("datastore")
    expect(page.locator("[data-picks] button").first).to_be_visible()


def focus_graph(page: Page) -> None:
    """Select a project from the list beside the graph."""
    expect(page.locator("#graph-status")).to_contain_text("drawn", timeout=30_000)
    page.get_by_label("Title contains").fill("Datastore")
    page.locator("#graph-projects button").first.click()
    expect(page.locator("#graph-selected h3")).to_be_visible()


def open_menu(page: Page) -> None:
    """Open the header's menu (shown on narrow screens)."""
    button = page.get_by_role("button", name="Menu")
    if button.is_visible():
        button.click()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def sign_in_wrongly(page: Page) -> None:
    """Try a wrong password, so the sign-in page shows its error."""
    page.get_by_label("Email").fill("nobody@example.london")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error, .error-summary, [role=alert]").first).to_be_visible()


def save_a_roadmap_without_a_name(page: Page) -> None:
    """Solve a roadmap and try to save it as a scenario with no name, so its errors show."""
    page.get_by_role("button", name="Save the scenario").click()
    expect(page.locator(".error-summary")).to_be_visible()


def refuse_a_weight(page: Page) -> None:
    """Save a profile's weights with one that is no number, so its summary takes focus."""
    page.get_by_label("Impact", exact=True).fill("lots")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator(".error-summary")).to_be_focused()


def refuse_an_empty_file(page: Page) -> None:
    """Send the import form an empty file, so the file field's error and summary show."""
    page.get_by_label("File").set_input_files({"name": "empty.csv", "mimeType": "text/csv",
                                                "buffer": b""})
    page.get_by_role("button", name="Check and import").click()
    expect(page.locator(".error-summary")).to_be_focused()


def see_filter_error(page: Page) -> None:
    """Wait for the summary of a filter naming nothing to take focus."""
    expect(page.locator(".error-summary")).to_be_focused()


# Each page's states besides the first view: name, path, role, what brings it about.
STATES: dict[str, tuple[str, str, Callable[[Page], None]]] = {
    "backlog, Why? open": ("/backlog", "cdo", open_why),
    "register, errors shown": ("/projects/new", "lead", show_register_errors),
    "edit, picker open": (f"/projects/{SLUG}/edit", "cdo", open_picker),
    "graph, a project focused": ("/graph", "researcher", focus_graph),
    "graph layered, a project focused": ("/graph?layout=layered", "researcher", focus_graph),
    "dashboard, menu open": ("/dashboard", "researcher", open_menu),
    "sign-in, error shown": ("/login", "", sign_in_wrongly),
    "profile, a weight refused": (f"/profiles/{PROFILE}", "cdo", refuse_a_weight),
    "import, an empty file refused": ("/import", "cdo", refuse_an_empty_file),
    "roadmap solved, saving refused": ("/plan/roadmap?budget=2000000", "cdo",
                                       save_a_roadmap_without_a_name),
    "projects, a filter naming nothing": ("/?theme=nonsense", "lead", see_filter_error),
    "backlog, a filter naming nothing": ("/backlog?organisation=ZZZ&profile=nonsense", "cdo",
                                         see_filter_error),
    "datasets, a filter naming nothing": ("/datasets?access=bogus", "researcher",
                                          see_filter_error),
    "collaboration, a filter naming nothing": ("/collaboration?theme=nonsense", "lead",
                                               see_filter_error),
    "graph, a filter naming nothing": ("/graph?kind=planet&colour=pink", "researcher",
                                       see_filter_error),
    "backlog, a view naming nothing": ("/backlog?view=bogus", "cdo", see_filter_error),
    "agreements, a filter naming nothing": ("/agreements?party=ZZZ", "cdo", see_filter_error),
    "profile comparison, a profile naming nothing": ("/profiles/compare?a=nonsense&b=Net zero",
                                                     "cdo", see_filter_error),
    "roadmap, bad choices": ("/plan/roadmap?budget=lots&profile=nonsense&group=bogus", "cdo",
                             see_filter_error),
    "roadmap, forced sets and a deadline refused": (
        "/plan/roadmap?budget=2000000&force_in=lldc-park-visitor-insights&force_out=nowhere"
        "&deadline_for=croydon-school-place-planning&deadline_on=2075-01-01"
        "&new_deadline_for=bd-community-solutions-demand&new_deadline_on=2075-01-01", "cdo",
        see_filter_error),
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("state", sorted(STATES))
def test_the_page_in_its_state_has_no_axe_violations(signed_in, state: str, width: str) -> None:  # type: ignore[no-untyped-def]
    path, role, bring_about = STATES[state]
    page = signed_in(role, WIDTHS[width])
    page.goto(path)
    bring_about(page)
    assert_accessible(page, f"{state} at {width}")
    assert_fits_the_viewport(page, f"{state} at {width}")


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches a selector (a keyboard user's way there)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {selector}")


def test_the_cdo_by_keyboard_alone_opens_the_backlog_and_a_why(signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in("cdo", DESKTOP)
    page.goto("/dashboard")
    tab_to(page, "header nav a[href$='/backlog']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/backlog"))
    tab_to(page, "a.why-toggle")
    page.keyboard.press("Enter")
    expect(page.locator("a.why-toggle").first).to_have_attribute("aria-expanded", "true")
    expect(page.locator("tr.why-row").first).to_contain_text("Blocked by")


def test_a_lead_by_keyboard_alone_finds_their_project_and_opens_it(signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in("lead", DESKTOP)
    page.goto("/")
    tab_to(page, "#q")
    page.keyboard.type("One View")
    page.keyboard.press("Enter")
    expect(page.locator("table.projects")).to_contain_text("One View")
    tab_to(page, "table.projects tbody a[href*='/projects/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("One View")
    tab_to(page, "a[href$='/edit']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/edit$"))


def test_a_lead_by_keyboard_alone_withdraws_their_request_to_partner(signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in("lead", DESKTOP)
    other = "/projects/london-datastore-replatforming"  # GLA's: the lead's borough is no partner
    page.goto(other)
    asked = page.evaluate("""async (url) => {
        const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token'];
        const body = new URLSearchParams({organisation: 'E09000002'});
        return (await fetch(url, {method: 'POST', body, headers: {'X-CSRF-Token': token}})).status;
    }""", f"{other}/join")
    assert asked < 400, asked
    page.reload()
    expect(page.locator("#partner-requests")).to_contain_text("pending")
    assert_accessible(page, "project, our request to partner waiting")
    tab_to(page, "#partner-requests button")
    expect(page.locator(":focus")).to_have_text("Withdraw our request")
    page.keyboard.press("Enter")
    expect(page.get_by_text("The request to partner is withdrawn.")).to_be_visible()
    expect(page.locator("#partner-requests")).to_have_count(0)


def test_a_researcher_by_keyboard_alone_selects_a_project_on_the_graph(signed_in) -> None:  # type: ignore[no-untyped-def]
    page = signed_in("researcher", PHONE)
    page.goto("/graph")
    expect(page.locator("#graph-status")).to_contain_text("drawn", timeout=30_000)
    tab_to(page, "#graph-search")
    page.keyboard.type("Datastore")
    tab_to(page, "#graph-projects button")
    page.keyboard.press("Enter")
    expect(page.locator("#graph-status")).to_contain_text("upstream")
    # Found in review: the selection's details came after the whole list, a Tab per project
    # away. The pick takes focus to them; the next Tab is their first link.
    expect(page.locator("#graph-selected")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.matches('#graph-selected a')")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/projects/"))


# Swagger UI (npm swagger-ui-dist, the API documentation) renders its own <main> inside the
# page's and puts its copy-link inside each operation's toggle button; neither can be changed
# from outside its React tree. These rules, and only these, are let through on /docs.
SWAGGER_OWN_MARKUP = {"landmark-unique", "landmark-no-duplicate-main",
                      "landmark-main-is-top-level", "nested-interactive"}


def assert_swagger_accessible(page: Page, state: str) -> None:
    """Fail on any violation but the ones Swagger UI's own markup makes."""
    found = [v for v in axe_violations(page) if v["id"] not in SWAGGER_OWN_MARKUP]
    assert not found, f"axe found violations on {state}:\n{describe(found)}"


def assert_fits_the_viewport(page: Page, state: str) -> None:
    """Fail when the page scrolls sideways (a table may scroll inside its own box)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{state} is {overflow}px wider than the viewport"
