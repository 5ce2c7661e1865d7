"""Findings 8, 9 and 12: headers, hosts, proxies, redirects and the smaller items."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import LoginAttempt
from portfolio.settings import Settings
from tests.web.auth import Browser, make_user, page_csrf, sign_in
from web.app import create_app

HTML = {"accept": "text/html"}


def test_hsts_is_sent_in_production_only(settings: Settings, db: Database) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with Browser(create_app(production), base_url="https://127.0.0.1") as client:
        sent = client.get("/login").headers
    assert sent["strict-transport-security"].startswith("max-age=31536000")
    with Browser(create_app(settings)) as client:
        assert "strict-transport-security" not in client.get("/login").headers


def test_cache_control_no_store_on_pages_api_and_exports(london_cdo: Browser) -> None:
    for url in ("/account", "/backlog", "/api/v1/projects",
                "/api/v1/export?format=csv"):
        assert london_cdo.get(url, headers=HTML).headers["cache-control"] == "no-store", url
    vendor = london_cdo.get("/static/vendor/htmx.min.js")
    assert "max-age" in vendor.headers["cache-control"]


def test_host_header_is_not_copied_into_redirects(london_cdo: Browser) -> None:
    refused = london_cdo.post("/snapshots", data={"label": "Q1"}, follow_redirects=False,
                              headers={"host": "evil.example"})
    assert refused.status_code == 400
    made = london_cdo.post("/snapshots", data={"label": "Q1"}, follow_redirects=False)
    assert made.status_code == 303
    assert made.headers["location"].startswith("/snapshots/")


def test_project_form_redirects_are_relative(london_cdo: Browser) -> None:
    made = london_cdo.post("/projects/new", data={
        "slug": "relative", "title": "Relative", "owner": "E09000002", "theme": "housing"},
        follow_redirects=False)
    assert made.status_code == 303
    assert made.headers["location"] == "/projects/relative/edit?created=1"


@pytest.mark.parametrize("trusted", [False, True], ids=["stranger", "trusted-proxy"])
def test_x_forwarded_for_is_believed_only_from_configured_proxies(
        settings: Settings, db: Database, trusted: bool) -> None:
    if trusted:
        settings = settings.model_copy(update={"forwarded_allow_ips": ["10.0.0.1"]})
    email = make_user(db, "researcher")
    with Browser(create_app(settings), client=("10.0.0.1", 5000)) as client:
        client.post("/login", data={"email": email, "password": "wrong password!!",
                                     "csrf_token": page_csrf(client)},
                    headers={"x-forwarded-for": "203.0.113.5"})
    with db.read() as session:
        keys = set(session.execute(select(LoginAttempt.key)).scalars())
    assert keys == {email, "client:203.0.113.5" if trusted else "client:10.0.0.1"}


def test_small_items_413_carries_the_security_headers(cdo: Browser) -> None:
    response = cdo.post("/api/v1/projects", content=b"x" * 2_000_000,
                        headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "content-security-policy" in response.headers


def test_small_items_a_chunked_body_over_the_limit_gets_413(cdo: Browser) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 50_000

    response = cdo.post("/api/v1/projects", content=chunks(),
                        headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "content-security-policy" in response.headers


def test_small_items_a_researchers_upload_is_refused_before_it_is_parsed(
        app, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from starlette import formparsers

    parsed: list[int] = []
    parse = formparsers.MultiPartParser.parse

    async def counted(self):  # type: ignore[no-untyped-def]
        parsed.append(1)
        return await parse(self)

    monkeypatch.setattr(formparsers.MultiPartParser, "parse", counted)
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        files = {"file": ("p.csv", b"slug,title,owner,theme\n" * 1000, "text/csv")}
        api = browser.post("/api/v1/import/projects", files=files)
        page = browser.post("/import", files=files, headers=HTML)
    assert (api.status_code, page.status_code) == (403, 403)
    assert parsed == []


def test_small_items_the_navigation_import_link_opens_the_import_page(
        london_cdo: Browser) -> None:
    page = london_cdo.get("/dashboard", headers=HTML).text
    assert 'href="/import"' in page
    assert 'href="/api/v1/import/projects"' not in page


def test_small_items_the_frontier_keeps_to_the_plan_wall_clock_limit(
        settings: Settings, london: Database) -> None:
    quick = settings.model_copy(update={"plan_wall_clock_seconds": 1e-9})
    with Browser(create_app(quick)) as client:
        sign_in(client, london, "cdo")
        curve = client.get("/api/v1/plan/frontier", params={
            "capacity": 100, "max_budget": 5_000_000, "steps": 40})
    assert curve.status_code == 200
    assert {point["status"] for point in curve.json()} == {"time_limit"}


def test_an_unexpected_fault_answers_500_with_the_security_headers(
        settings: Settings, db: Database) -> None:
    # A bug, not a database fault: Starlette's outermost error handler answers it, outside the
    # middleware that adds the headers, unless that middleware answers first.
    app = create_app(settings)

    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("a bug")

    with Browser(app, raise_server_exceptions=False) as client:
        response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert "content-security-policy" in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "a bug" not in response.text
