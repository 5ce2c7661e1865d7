"""Finding 5: weights that took the site down, and a stored profile that cannot rank."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from portfolio.db import Database
from portfolio.models import ProfileWeight
from tests.web.auth import Browser

SLUG = "underground-asset-register-pilot"


def profile_body(london_cdo: Browser, **dimension: float) -> dict:
    current = london_cdo.get("/api/v1/profiles/CDO default").json()["weights"]
    return {"dimension_weights": current["dimension"] | dimension,
            "criterion_weights": current["criterion"]}


@pytest.mark.parametrize("weights", [
    {"impact": 1e308, "feasibility": 1e308, "readiness": 1e308},
    {"impact": 2e6},
    {"impact": -1.0},
    {"impact": 0.0, "feasibility": 0.0, "readiness": 0.0},
], ids=["overflowing", "over-the-bound", "negative", "all-zero"])
def test_weights_that_take_the_site_down_are_refused_with_422(
        london_cdo: Browser, weights: dict[str, float]) -> None:
    response = london_cdo.put("/api/v1/profiles/CDO default",
                              json=profile_body(london_cdo, **weights))
    assert response.status_code == 422
    assert "dimension_weights" in response.json()["errors"]
    assert london_cdo.get("/api/v1/backlog").status_code == 200


def test_weights_that_cannot_rank_show_an_error_panel_not_a_500(
        london_cdo: Browser, london: Database) -> None:
    # A profile stored before the check: every weight zero.
    with london.write() as session:
        session.execute(update(ProfileWeight).values(weight=0.0))
    html = {"accept": "text/html"}
    backlog = london_cdo.get("/backlog", headers=html)
    assert backlog.status_code == 409
    assert "cannot rank projects" in backlog.text
    project = london_cdo.get(f"/projects/{SLUG}", headers=html)
    assert project.status_code == 200
    assert "cannot rank projects" in project.text
    api = london_cdo.get("/api/v1/backlog")
    assert api.status_code == 409 and "cannot rank projects" in api.json()["detail"]
    for unrelated in ("/", "/datasets", "/reviews", "/api/v1/projects", "/api/v1/profiles"):
        assert london_cdo.get(unrelated, headers=html).status_code == 200, unrelated
