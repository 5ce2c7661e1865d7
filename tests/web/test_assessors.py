"""Several assessors per criterion, through the pages and the API."""

from __future__ import annotations

import statistics

from portfolio.db import Database
from portfolio.settings import Settings
from tests.web.auth import Browser, sign_in
from web.app import create_app

PROJECT = "bd-one-view-phase-2"


def assess(client: Browser, level: int) -> None:
    answer = client.post(f"/projects/{PROJECT}/assessments", data={
        "criterion": "reach", "level": str(level), "rationale": f"Level {level} because."},
        follow_redirects=False)
    assert answer.status_code in (200, 303), answer.text


def test_a_lead_and_the_cdo_both_count_and_the_page_shows_where_they_disagree(
    settings: Settings, london: Database,
) -> None:
    app = create_app(settings)
    with Browser(app) as lead, Browser(app) as cdo:
        lead_email = sign_in(lead, london, "lead", "E09000002")
        sign_in(cdo, london, "cdo")
        before = cdo.get(f"/api/v1/projects/{PROJECT}").json()
        seeded = next(a for a in before["assessments"] if a["criterion"] == "reach")
        assess(lead, 1)
        assess(cdo, 5)
        assess(lead, 2)  # the lead's newest level replaces their own earlier one
        after = cdo.get(f"/api/v1/projects/{PROJECT}").json()
        page = cdo.get(f"/projects/{PROJECT}").text
        editor = lead.get(f"/projects/{PROJECT}/edit").text
    reach = next(a for a in after["assessments"] if a["criterion"] == "reach")
    levels = [a["level"] for a in seeded["assessors"]] + [2, 5]
    assert sorted(a["level"] for a in reach["assessors"]) == sorted(levels)
    assert reach["level"] == statistics.median(levels)
    assert (reach["low"], reach["high"], reach["disagree"]) == (min(levels), max(levels), True)
    assert f"assessors disagree: {min(levels)} to {max(levels)}" in page
    assert lead_email.split("@")[0] in page or "Test lead" in page
    assert "people assess it and the level that scores is their median" in editor
