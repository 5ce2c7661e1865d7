"""Database faults answered in words: read-only, out of space, unreachable, locked by another."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from portfolio import migrate
from portfolio.db import Database
from portfolio.models import AuditEvent, Project
from portfolio.services.ranking import ensure_ranking
from portfolio.settings import Settings
from seeds.loader import load_reference
from tests.conftest import _admin_conninfo
from tests.factories import make_organisation, make_project
from tests.web.auth import Browser, sign_in, token_for
from tests.web.pages_html import parse_html
from web.app import create_app

HTML = {"accept": "text/html"}


@pytest.fixture
def portfolio(db: Database) -> Database:
    """A small portfolio whose ranking is stored (a read-only database cannot store one)."""
    with db.write() as session:
        load_reference(session)
        make_organisation(session, "E09000002", name="Barking and Dagenham")
        make_project(session, "one-view", title="One View household data")
    ensure_ranking(db)
    return db


def read_only_settings(settings: Settings, backend: str) -> Settings:
    """Return settings for the same database made read-only (SQLite opened so, PostgreSQL set)."""
    url = make_url(settings.database_url)
    if backend == "sqlite":
        return settings.model_copy(update={
            "database_url": f"sqlite:///file:{url.database}?mode=ro&uri=true"})
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
    return settings


@pytest.fixture
def read_only(settings: Settings, backend: str,
              portfolio: Database) -> Iterator[Callable[[], Settings]]:
    """Yield what makes the database read-only (when the test says); writable again after."""
    yield lambda: read_only_settings(settings, backend)
    if backend == "postgresql":
        name = make_url(settings.database_url).database
        with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')


def edit(version: int) -> dict[str, object]:
    """Return an API edit of one-view made from a version."""
    return {"title": "Renamed", "owner": "E09000002", "theme": "housing", "version": version}


def project_state(db: Database) -> tuple[str, int, int]:
    """Return one-view's title and version, and how many audit events there are."""
    with db.read() as session:
        project = session.execute(select(Project).where(Project.slug == "one-view")).scalar_one()
        events = len(session.execute(select(AuditEvent.id)).all())
    return project.title, project.version, events


def test_an_api_edit_on_a_read_only_database_answers_503_in_words(
        read_only: Callable[[], Settings], portfolio: Database) -> None:
    token = token_for(portfolio, "admin")
    before = project_state(portfolio)
    with Browser(create_app(read_only())) as client:
        client.headers["authorization"] = f"Bearer {token}"
        assert client.get("/api/v1/projects/one-view").status_code == 200
        response = client.put("/api/v1/projects/one-view",
                              json=edit(before[1]))
    assert response.status_code == 503
    assert "read-only" in response.json()["detail"]
    assert "nothing was written" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 0
    assert project_state(portfolio) == before


def test_every_page_says_read_only_and_a_form_edit_gets_a_readable_page(
        read_only: Callable[[], Settings], portfolio: Database, settings: Settings) -> None:
    with Browser(create_app(settings), headers=HTML) as writable:
        sign_in(writable, portfolio)
        form = {"csrf_token": writable.csrf, "slug": "one-view", "title": "Renamed",
                "owner": "E09000002", "theme": "housing", "status": "idea", "version": "1"}
    with Browser(create_app(read_only()), headers=HTML) as client:
        # The same signed-in browser, now served from the read-only database.
        client.cookies = writable.cookies
        client.csrf = writable.csrf
        for path in ("/", "/backlog", "/projects/one-view"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert 'id="read-only-mode"' in page.text, path
        refused = client.post("/projects/one-view/edit", data=form)
    assert refused.status_code == 503
    assert "text/html" in refused.headers["content-type"]
    assert "read-only" in refused.text and "Traceback" not in refused.text
    assert project_state(portfolio)[0] == "One View household data"


# A full disk is simulated with SQLite's max_page_count.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_full_disk_refuses_the_import_in_words_and_pages_turn_read_only(
        settings: Settings, portfolio: Database) -> None:
    token = token_for(portfolio, "admin")
    before = project_state(portfolio)
    app = create_app(settings)

    @event.listens_for(app.state.database.engine, "connect")
    def _no_room(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # The file may not grow past its present size: what a full disk looks like to SQLite.
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    rows = "\n".join(f"bulk-{n},Bulk project {n} {'x' * 200},E09000002,housing"
                     for n in range(2000))
    with Browser(app) as client:
        client.headers["authorization"] = f"Bearer {token}"
        response = client.post("/api/v1/import/projects", files={
            "file": ("bulk.csv", f"slug,title,owner,theme\n{rows}\n".encode(), "text/csv")})
        assert response.status_code == 503, response.text
        assert "out of disk space" in response.json()["detail"]
        assert response.headers["retry-after"]
        page = client.get("/", headers=HTML)
    assert 'id="read-only-mode"' in page.text and "out of disk space" in page.text
    assert project_state(portfolio) == before


@pytest.mark.parametrize("backend", ["sqlite"])
def test_health_never_depends_on_who_asks_and_readiness_says_the_database_is_down(
        settings: Settings, db: Database) -> None:
    with Browser(create_app(settings), headers=HTML) as writable:
        sign_in(writable, db)
    down = settings.model_copy(update={
        "database_url": "postgresql+psycopg://postgres@127.0.0.1:1/nothing_listens"})
    with Browser(create_app(down), raise_server_exceptions=False) as client:
        client.cookies = writable.cookies
        alive = client.get("/healthz", headers={"authorization": "Bearer ldp_unknown"})
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz", headers={"authorization": "Bearer ldp_unknown"})
        api = client.get("/api/v1/projects", headers={"authorization": "Bearer ldp_x"})
        page = client.get("/", headers=HTML)
    assert ready.status_code == 503
    assert "unavailable" in ready.json()["detail"] and ready.headers["retry-after"]
    assert api.status_code == 503 and "unavailable" in api.json()["detail"]
    assert api.headers["retry-after"]
    assert page.status_code == 503 and "text/html" in page.headers["content-type"]
    assert "The database is unavailable" in page.text


def test_readiness_checks_database_schema_writes_and_background_work(
        settings: Settings, db: Database) -> None:
    with Browser(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert (checks["database"], checks["schema"], checks["writable"]) == ("ok", "ok", "ok")
    assert checks["background"]["dead"] == []


def test_readiness_says_a_read_only_database_cannot_be_written(
        read_only: Callable[[], Settings]) -> None:
    with Browser(create_app(read_only())) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["writable"] == "read_only"
    assert "read-only" in ready.json()["detail"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_edit_behind_another_writer_past_the_busy_timeout_answers_503_busy(
        settings: Settings, portfolio: Database) -> None:
    token = token_for(portfolio, "admin")
    quick = settings.model_copy(update={"sqlite_busy_timeout_ms": 100})
    path = Path(str(make_url(settings.database_url).database))
    other = sqlite3.connect(path, isolation_level=None)
    with Browser(create_app(quick)) as client:
        client.headers["authorization"] = f"Bearer {token}"
        other.execute("BEGIN IMMEDIATE")
        try:
            held = client.put("/api/v1/projects/one-view", json=edit(1))
            page = client.get("/projects/one-view", headers=HTML)
        finally:
            other.execute("ROLLBACK")
            other.close()
        after = client.put("/api/v1/projects/one-view", json=edit(1))
    assert held.status_code == 503 and "busy" in held.json()["detail"]
    assert held.headers["retry-after"] == "1"
    assert page.status_code == 200  # reading is never held up by a writer
    assert after.status_code == 200 and after.json()["version"] == 2


@pytest.mark.parametrize("backend", ["sqlite"])
def test_readiness_says_the_schema_is_behind(settings: Settings, db: Database) -> None:
    migrate.downgrade(db.engine, "0006")
    with Browser(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["schema"].startswith("at 0006")
    assert "portfolio db upgrade" in ready.json()["detail"]


# Found in review: a page's form sent while the database was busy came back as a 503 page
# without what was typed and with a link to the projects, not back to the form's page.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_form_sent_while_the_database_is_busy_keeps_what_was_typed(
        settings: Settings, portfolio: Database) -> None:
    quick = settings.model_copy(update={"sqlite_busy_timeout_ms": 100})
    path = Path(str(make_url(settings.database_url).database))
    with Browser(create_app(quick), headers=HTML) as client:
        sign_in(client, portfolio, "admin")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            sent = client.post("/projects/one-view/override", headers={
                "referer": "http://testserver/projects/one-view",
                "origin": "http://testserver"}, data={
                "value": "80", "justification": "Ministerial priority for the winter plan",
                "expires_on": "", "was_value": "", "was_justification": "",
                "was_expires_on": ""})
        finally:
            other.execute("ROLLBACK")
            other.close()
    assert sent.status_code == 503, sent.text
    page = parse_html(sent.text)
    kept = [e.text() for e in page.find_all("textarea")]
    assert "Ministerial priority for the winter plan" in kept
    assert page.find("a", href="/projects/one-view") is not None
