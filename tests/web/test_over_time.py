"""The portfolio over time from snapshots: charts, a project's rank across them, what changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portfolio.db import Database
from portfolio.services import ranking as ranking_service
from portfolio.settings import Settings
from tests.factories import make_project
from tests.web.auth import Browser, sign_in
from web.app import create_app

HTMX = {"HX-Request": "true"}


@pytest.fixture
def backend() -> str:
    """Pages over snapshots: database-neutral, run on SQLite."""
    return "sqlite"


@pytest.fixture(autouse=True)
def fewer_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank with fewer robustness samples: these tests are about pages, not robustness."""
    monkeypatch.setattr(ranking_service, "DEFAULT_SAMPLES", 60)


@pytest.fixture
def browser(settings: Settings, london: Database) -> Iterator[Browser]:
    with Browser(create_app(settings), headers={"accept": "text/html"}) as client:
        sign_in(client, london, "researcher")
        yield client


def two_snapshots(browser: Browser, london: Database) -> tuple[dict, dict]:
    first = browser.post("/api/v1/snapshots", json={"label": "Autumn"}).json()
    with london.write() as session:
        make_project(session, "new-in-between", owner="E09000007", title="New in between")
    second = browser.post("/api/v1/snapshots", json={"label": "Winter"}).json()
    return first, second


def test_the_over_time_page_charts_each_series_with_a_table(browser: Browser,
                                                            london: Database) -> None:
    two_snapshots(browser, london)
    page = browser.get("/over-time")
    assert page.status_code == 200
    html = page.text
    for title in ("Projects by status", "Value of active projects by theme",
                  "Datasets by readiness level"):
        assert f'aria-label="{title}' in html and f"<caption>{title}" in html
    # The new idea shows in the second snapshot's count of ideas.
    api = browser.get("/api/v1/projects", params={"status": "idea"}).json()
    assert f'<th scope="row">Idea</th><td class="num">{len(api) - 1}</td>' \
           f'<td class="num">{len(api)}</td>' in html.replace("\n", "")


def test_a_projects_rank_and_score_across_snapshots(browser: Browser,
                                                    london: Database) -> None:
    two_snapshots(browser, london)
    top = browser.get("/api/v1/backlog", params={"top": 1}).json()[0]
    project = browser.get(f"/projects/{top['slug']}").text
    assert f'hx-get="/projects/{top["slug"]}/over-time"' in project
    fragment = browser.get(f"/projects/{top['slug']}/over-time", headers=HTMX)
    assert "<html" not in fragment.text
    assert fragment.text.count('<td class="num">1</td>') == 2  # rank 1 in both snapshots
    # At 2 decimals, as every score shown (DESIGN, "Rounding").
    assert f"{top['score']:.2f}" in fragment.text
    full = browser.get(f"/projects/{top['slug']}/over-time")
    assert "<html" in full.text and "Rank and score across snapshots" in full.text


def test_a_project_new_since_the_snapshots_has_no_points(browser: Browser,
                                                         london: Database) -> None:
    browser.post("/api/v1/snapshots", json={"label": "Only"})
    with london.write() as session:
        make_project(session, "brand-new", owner="E09000007", title="Brand new")
    fragment = browser.get("/projects/brand-new/over-time", headers=HTMX).text
    assert "No snapshot holds this project yet." in fragment


def test_the_dashboard_says_what_changed_since_the_last_snapshot(browser: Browser,
                                                                 london: Database) -> None:
    browser.post("/api/v1/snapshots", json={"label": "Before the new one"})
    with london.write() as session:
        make_project(session, "added-after", owner="E09000007", title="Added after")
    dashboard = browser.get("/dashboard").text
    assert 'hx-get="/dashboard/changes"' in dashboard
    fragment = browser.get("/dashboard/changes", headers=HTMX).text
    assert "Before the new one" in fragment
    assert "Added (1)" in fragment and "Added after" in fragment


def test_with_no_snapshot_the_pages_say_so(browser: Browser) -> None:
    assert "No snapshot yet" in browser.get("/dashboard/changes", headers=HTMX).text
    assert "No snapshot yet" in browser.get("/over-time").text


def test_the_over_time_page_counts_its_snapshots_in_words(browser: Browser) -> None:
    # It read "Read from the 0 newest snapshots" above "No snapshot yet", and "the 1 newest
    # snapshots" with one.
    assert "newest" not in browser.get("/over-time").text

    browser.post("/api/v1/snapshots", json={"label": "Only"})

    page = browser.get("/over-time").text
    assert "Read from the one snapshot" in page.replace("<a href=\"/snapshots\">", "")


def test_a_project_archived_since_the_snapshot_is_said_and_over_time_counts_archived_ones(
        browser: Browser, london: Database) -> None:
    # Found in review: archiving never showed as a change since the snapshot, and the status
    # chart counted archived projects where the dashboard does not, without saying so.
    from portfolio.actors import SYSTEM
    from portfolio.services import workflow

    browser.post("/api/v1/snapshots", json={"label": "Before archiving"})
    with london.write() as session:
        workflow.archive(session=session, actor=SYSTEM, slug="bd-rogue-landlord-ml")
    fragment = browser.get("/dashboard/changes", headers=HTMX).text
    assert "Archived (1)" in fragment and "bd-rogue-landlord-ml" in fragment
    assert "No project was added" not in fragment
    assert "archived ones included" in browser.get("/over-time").text
