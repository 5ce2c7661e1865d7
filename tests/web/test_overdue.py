"""Overdue work: a project in progress past its planned end date is said so, in words."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from portfolio.db import Database
from tests.factories import make_project
from tests.web.auth import Browser
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

BARKING = "E09000002"


@pytest.fixture
def backend() -> str:
    """Run on SQLite: the rule is the app's, not the database's."""
    return "sqlite"


@pytest.fixture
def work(london: Database) -> Database:
    """Add Barking and Dagenham projects ending around today to the London demo."""
    today = date.today()
    began = today - timedelta(days=400)
    with london.write() as session:
        for slug, status, end in (("late-work", "in_progress", today - timedelta(days=1)),
                                  ("due-today", "in_progress", today),
                                  ("on-time", "in_progress", today + timedelta(days=90)),
                                  ("delivered-late", "delivered", today - timedelta(days=30)),
                                  ("approved-late", "approved", today - timedelta(days=30))):
            make_project(session, slug, owner=BARKING, status=status, start_date=began,
                         end_date=end, cost_gbp=50_000, effort_pm=3)
    return london


MINE = {"late-work": True, "due-today": False, "on-time": False, "delivered-late": False,
        "approved-late": False}


@pytest.fixture
def client(signed_in: SignedIn, work: Database) -> Browser:
    return signed_in("cdo", html=True)


def test_the_api_says_which_projects_are_overdue(client: Browser) -> None:
    listed = client.get("/api/v1/projects", params={"organisation": BARKING},
                        headers={"accept": "application/json"})
    assert listed.status_code == 200, listed.text
    assert {p["slug"]: p["overdue"] for p in listed.json() if p["slug"] in MINE} == MINE
    for slug, overdue in MINE.items():
        one = client.get(f"/api/v1/projects/{slug}", headers={"accept": "application/json"})
        assert one.json()["overdue"] is overdue, slug


def test_the_project_page_says_overdue_in_words(client: Browser) -> None:
    late = parse_html(client.get("/projects/late-work").text)
    said = " ".join(late.find("p", class_="meta").text().split())
    assert "Overdue" in said
    dates = " ".join(late.by_id("project-dates").text().split())
    assert "overdue" in dates and "the planned end date has passed" in dates
    for slug in ("due-today", "delivered-late"):
        page = parse_html(client.get(f"/projects/{slug}").text)
        assert "Overdue" not in page.find("p", class_="meta").text(), slug
        assert "overdue" not in page.by_id("project-dates").text(), slug


def test_the_projects_list_marks_overdue_rows_in_words(client: Browser) -> None:
    page = parse_html(client.get("/", params={"organisation": BARKING}).text)
    rows = {row.find("a").text(): " ".join(row.text().split())
            for row in page.find("table", class_="projects").find("tbody").find_all("tr")}
    assert "overdue" in rows["Late Work"]
    assert all("overdue" not in rows[title] for title in
               ("Due Today", "On Time", "Delivered Late", "Approved Late"))


def test_the_backlog_marks_overdue_committed_work_in_words(client: Browser) -> None:
    api = client.get("/api/v1/backlog", params={"view": "committed", "fresh": "true"},
                     headers={"accept": "application/json"})
    assert api.status_code == 200, api.text
    rows = {r["slug"]: r["overdue"] for r in api.json()}
    assert {slug: rows[slug] for slug in ("late-work", "due-today", "on-time")} == {
        "late-work": True, "due-today": False, "on-time": False}
    stored = {"view": "committed", "organisation": BARKING}
    # The stored ranking's page, and one re-ranked in place by moving a weight slider.
    for asked in (stored, stored | {"w_impact": 97}):
        page = parse_html(client.get("/backlog", params=asked).text)
        assert ("What-if ranking" in page.by_id("ranking-meta").text()) is ("w_impact" in asked)
        shown = {row.get("data-slug"): " ".join(row.text().split())
                 for row in page.find("table", class_="backlog").find_all("tr")
                 if row.get("data-slug")}
        assert "overdue" in shown["late-work"], asked
        assert "overdue" not in shown["due-today"] and "overdue" not in shown["on-time"]
