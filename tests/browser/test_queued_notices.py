"""The notices of work queued for a worker (imports, saved scenarios) pass the axe gate."""

from __future__ import annotations

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import imports, scenarios
from portfolio.settings import Settings
from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.web.auth import Browser, sign_in
from web.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def backend() -> str:
    """The job queue lives in PostgreSQL."""
    return "postgresql"


def queued_pages(settings: Settings, london: Database) -> dict[str, str]:
    """Render each page that says its work is queued (no worker runs here)."""
    with london.write() as session:
        plan = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Queued plan", "budget": 2_000_000, "capacity": 60})["id"]
        roadmaps = [scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": name, "kind": "roadmap", "budget": 1_000_000, "horizon": 8})["id"]
            for name in ("Lean", "Generous")]
    app = create_app(settings.model_copy(update={"jobs": "queue"}))
    with Browser(app, headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        posted = client.post("/import", files={"file": ("new.csv", imports.template_bytes(),
                                                        "text/csv")})
        pages = {"import": posted.text, "plan": client.get(f"/plan?scenario={plan}").text,
                 "roadmap": client.get(f"/plan/roadmap?scenario={roadmaps[0]}").text,
                 "compare": client.get("/plan/compare", params={"scenario": roadmaps}).text}
    for name, html in pages.items():
        assert "queued" in html, name
    return pages


def test_the_queued_notices_pass_the_axe_gate(page, live_server: str, settings: Settings,  # type: ignore[no-untyped-def]
                                              london: Database) -> None:
    pages = queued_pages(settings, london)
    # The live server serves the same hashed static files the rendered pages link to.
    page.goto("/healthz")
    for name, html in pages.items():
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            page.set_content(html)
            assert_accessible(page, f"{name} queued at {size['width']} px")
