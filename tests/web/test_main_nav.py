"""The main navigation: the links a role may follow, the page's own marked as current."""

from __future__ import annotations

from lxml import html as lxml_html
from starlette.requests import Request

from portfolio.actors import Actor
from portfolio.enums import Role
from portfolio.settings import Settings
from web.app import create_app
from web.templating import main_nav

APP = create_app(Settings(database_url="sqlite:///:memory:", environment="test",
                          secret_key="x" * 32))


def links(role: Role, path: str) -> dict[str, str | None]:
    """Return each link's label and its aria-current, as a user of a role sees them on a page."""
    request = Request({"type": "http", "app": APP, "path": path, "query_string": b"",
                       "headers": [], "router": APP.router})
    drawn = lxml_html.fragment_fromstring(f"<nav>{main_nav(request, Actor(id=1, role=role))}</nav>")
    return {a.text_content(): a.get("aria-current") for a in drawn.xpath("a")}


def test_a_researcher_is_offered_no_link_to_register_or_import_and_a_lead_is() -> None:
    # Kept per role and place: the researcher's links first, then the lead's on the same page.
    researcher = links(Role.RESEARCHER, "/backlog")
    lead = links(Role.LEAD, "/backlog")
    assert "Register a project" not in researcher and "Import" not in researcher
    assert "Register a project" in lead and "Import" in lead
    assert set(researcher) < set(lead)


def test_the_page_s_own_link_is_current_and_its_section_s_link_marks_its_pages() -> None:
    assert links(Role.LEAD, "/backlog")["Backlog"] == "page"
    on_project = links(Role.LEAD, "/projects/housing-register")
    assert on_project["Projects"] == "true" and on_project["Backlog"] is None
    # Registering a project is outside the projects section: its own link is the current one.
    registering = links(Role.LEAD, "/projects/new")
    assert registering["Register a project"] == "page" and registering["Projects"] is None
