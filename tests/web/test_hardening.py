"""Bad input and hostile clients: clear 4xx answers, nothing lost, nothing executed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from portfolio.db import Database
from portfolio.settings import Settings
from tests.factories import make_organisation, make_project
from tests.web.auth import PASSWORD, Browser, make_user, page_csrf, sign_in, token_for
from web.app import create_app

NON_LATIN = "Ліва Ґарбуз — 東京データ — ضاحية — Ŵelsh ŷ — 😀"


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    with db.write() as session:
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_project(session, "one-view", title="One View")
    return create_app(settings)


@pytest.fixture
def client(app, db: Database) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    with Browser(app) as test_client:
        sign_in(test_client, db, "cdo")
        yield test_client


def edit(client: TestClient, version: int, title: str):  # type: ignore[no-untyped-def]
    return client.put("/api/v1/projects/one-view", json={
        "title": title, "owner": "E09000002", "theme": "housing", "version": version})


def test_two_sessions_editing_the_same_version_second_gets_409(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as first, Browser(app) as second:
        sign_in(first, db, "cdo")
        sign_in(second, db, "admin")
        assert edit(first, 1, "First edit").status_code == 200
        refused = edit(second, 1, "Second edit")
    assert refused.status_code == 409
    assert refused.json()["changed"] == {"title": "First edit"}
    assert refused.json()["current"]["version"] == 2


def test_oversized_body_is_refused_with_413(client: Browser) -> None:
    response = client.post("/api/v1/projects", content=b"x" * 2_000_000,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_oversized_field_is_refused_with_422_and_nothing_written(client: Browser) -> None:
    response = client.post("/api/v1/projects", json={
        "slug": "huge", "title": "t" * 5000, "owner": "E09000002", "theme": "housing"})
    assert response.status_code == 422
    assert "title" in response.json()["errors"]
    assert client.get("/api/v1/projects/huge").status_code == 404


def test_non_latin_names_round_trip_intact(client: Browser) -> None:
    created = client.post("/api/v1/projects", json={
        "slug": "unicode", "title": NON_LATIN, "description": NON_LATIN,
        "owner": "E09000002", "theme": "housing"})
    assert created.status_code == 201
    assert client.get("/api/v1/projects/unicode").json()["title"] == NON_LATIN
    assert NON_LATIN in client.get("/projects/unicode", headers={"accept": "text/html"}).text


def test_pages_carry_security_headers(client: Browser) -> None:
    response = client.get("/dashboard", headers={"accept": "text/html"})
    csp = response.headers["content-security-policy"]
    script_src = next(part for part in csp.split(";") if "script-src" in part)
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "httponly" in response.headers.get("set-cookie", "httponly").lower()


def test_repeated_bad_passwords_are_slowed_down(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    email = make_user(db, "researcher")
    with Browser(app) as client:
        csrf = page_csrf(client)
        statuses = [client.post("/login", data={"email": email, "password": "wrong password!",
                                                "csrf_token": csrf}).status_code
                    for _ in range(6)]
        blocked = client.post("/login", data={"email": email, "password": PASSWORD,
                                              "csrf_token": csrf})
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    assert blocked.status_code == 429
    assert "try again in" in blocked.text


def test_api_tokens_carry_their_owners_permissions(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as client:
        reader = {"Authorization": f"Bearer {token_for(db, 'researcher')}"}
        assert client.get("/api/v1/projects", headers=reader).status_code == 200
        refused = client.post("/api/v1/projects", headers=reader, json={
            "slug": "x", "title": "X", "owner": "E09000002", "theme": "housing"})
        assert refused.status_code == 403
        bad = client.get("/api/v1/projects", headers={"Authorization": "Bearer ldp_nope"})
        assert bad.status_code == 401
        assert client.get("/api/v1/projects").status_code == 401


def test_revoked_tokens_and_deactivated_users_are_refused_at_once(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from portfolio.actors import SYSTEM
    from portfolio.models import ApiToken
    from portfolio.services import accounts

    with TestClient(app) as client, Browser(app) as browser:
        token = token_for(db, "researcher")
        email = sign_in(browser, db, "researcher")
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/projects", headers=auth).status_code == 200
        assert browser.get("/api/v1/projects").status_code == 200
        with db.write() as session:
            found = session.execute(select(ApiToken).where(
                ApiToken.token_hash == accounts._token_hash(token))).scalars().one()
            accounts.revoke_token(session=session, actor=SYSTEM, token_id=found.id)
        assert client.get("/api/v1/projects", headers=auth).status_code == 401
        with db.write() as session:
            accounts.update_user(session=session, actor=SYSTEM, email=email, is_active=False)
        assert browser.get("/api/v1/projects").status_code == 401


def test_sign_in_never_redirects_off_site(app) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as client:
        page = client.get("/login", params={"next": "//evil.example/phish"}).text
    assert 'name="next" value="/"' in page


# Review: a form number of Unicode digits passed str.isdigit() and then int() raised (500).
# Review: 5,000 digits passed the digits check, and int() refuses over 4,300 (a 500).
@pytest.mark.parametrize("value", ["²", "①", "٣", "9" * 5000])
@pytest.mark.parametrize(("url", "fields"), [
    ("/notifications/read", {"id": "{}"}),
    ("/projects/bd-propensity-to-pay/status", {"to": "idea", "version": "{}"}),
    ("/projects/bd-one-view/archive", {"archived": "true", "version": "{}"}),
    ("/agreements/london-street-works-dsa/edit", {"title": "Street works", "version": "{}"}),
])
def test_a_form_number_in_other_digits_is_not_a_server_error(
        settings: Settings, london: Database, url: str, fields: dict[str, str],
        value: str) -> None:
    with Browser(create_app(settings), raise_server_exceptions=False,
                 headers={"accept": "text/html"}) as client:
        sign_in(client, london, "admin")
        answer = client.post(url, data={k: v.format(value) for k, v in fields.items()},
                             follow_redirects=False)
    assert answer.status_code < 500, answer.text[:300]


def test_whole_numbers_are_ascii_digits_only() -> None:
    from portfolio.text import whole_number

    assert [whole_number(v) for v in ("12", " 7 ", "²", "①", "٣", "-3", "", "1e3",
                                      "9" * 19, "9" * 100, "9" * 101, "9" * 5000)] == [
        12, 7, None, None, None, None, None, None, 10**19 - 1, 10**100 - 1, None, None]


@pytest.mark.parametrize("url", [
    "/api/v1/projects?q=%00", "/api/v1/projects?organisation=a%00b", "/api/v1/projects/one%00view",
    "/api/v1/datasets?publisher=%00", "/api/v1/profiles/a%00", "/api/v1/agreements?party=%00",
    "/api/v1/projects/one%00view/comments", "/api/v1/benefits?organisation=%00",
])
def test_a_nul_character_in_a_path_or_filter_is_never_a_server_error(
        client: Browser, url: str) -> None:
    # PostgreSQL's text cannot hold U+0000: psycopg refused the parameter and the API said 500.
    # SQLite finds nothing with it; PostgreSQL refuses it in words.
    response = client.get(url)
    assert response.status_code in (200, 404, 422), (response.status_code, response.text)
    if response.status_code == 422:
        assert "U+0000" in response.json()["detail"]


def test_a_nul_character_in_a_body_is_a_422_and_nothing_is_written(client: Browser) -> None:
    response = client.put("/api/v1/projects/one-view/stewardship", json={
        "owner_email": "owner\x00@example.london", "public_contact": "data@example.london"})
    assert response.status_code in (404, 422), (response.status_code, response.text)
    assert response.json()["detail"]
    assert client.get("/api/v1/projects/one-view/progress").json()["owner"] is None


def test_a_patch_from_a_version_the_record_never_had_is_refused(
        client: Browser, db: Database) -> None:
    # A version above the current one (a made-up or another record's number) was taken as
    # "nothing changed since" and every field sent was applied over others' edits, unchecked.
    from tests.factories import make_dataset

    with db.write() as session:
        make_dataset(session, "rough-sleeping-counts")
    assert edit(client, 1, "Someone else's title").status_code == 200  # now version 2
    refused = client.patch("/api/v1/projects/one-view", json={"version": 7, "title": "Mine"})
    assert refused.status_code == 422, refused.text
    assert "version" in refused.json()["errors"]
    assert client.get("/api/v1/projects/one-view").json()["title"] == "Someone else's title"
    refused = client.patch("/api/v1/datasets/rough-sleeping-counts",
                           json={"version": 2, "title": "Mine"})
    assert refused.status_code == 422, refused.text
    assert "version" in refused.json()["errors"]
