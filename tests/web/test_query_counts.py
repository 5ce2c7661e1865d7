"""The backlog and graph pages make a fixed number of SQL queries, however many rows they show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.web.auth import Browser
from tests.web.conftest import SignedIn

HTML = {"accept": "text/html"}


@pytest.fixture
def client(signed_in: SignedIn) -> Browser:
    browser = signed_in("cdo")
    browser.get("/backlog", headers=HTML)  # the first view computes and stores the ranking
    return browser


@contextmanager
def counted(client: Browser) -> Iterator[list[str]]:
    """Record the SQL statements the app's engine runs."""
    engine = client.app.state.database.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def dashboard(client: Browser) -> tuple[str, list[str]]:
    """Return the dashboard's page and the SQL statements showing it took."""
    with counted(client) as statements:
        page = client.get("/dashboard", headers=HTML)
    assert page.status_code == 200
    return page.text, statements


def edit(client: Browser, slug: str, **fields: Any) -> None:
    """Change some of a project's fields through the API, at its current version."""
    version = client.get(f"/api/v1/projects/{slug}").json()["version"]
    changed = client.patch(f"/api/v1/projects/{slug}", json={"version": version, **fields})
    assert changed.status_code == 200, changed.text


def test_backlog_queries_do_not_grow_with_the_rows_shown(client: Browser) -> None:
    memo, pages = client.app.state.database.memo, client.app.state.database.page_memo
    memo.clear()  # count the queries of pages this worker has not seen yet
    pages.clear()
    with counted(client) as few:
        page = client.get("/backlog", params={"q": "one-view"}, headers=HTML)
    assert page.status_code == 200
    memo.clear()
    pages.clear()
    with counted(client) as many:
        page = client.get("/backlog", headers=HTML)
    assert page.text.count("<tr data-slug=") >= 30  # every candidate of London
    assert len(many) == len(few), many
    with counted(client) as again:
        client.get("/backlog", headers=HTML)
    # A stored run's page is read once per worker.
    assert not [sql for sql in again if "ranking_row" in sql], again


def test_a_shown_backlog_page_reads_its_user_revision_and_bell_in_one_statement(
        client: Browser) -> None:
    client.get("/backlog", headers=HTML)  # shown once: its rows and choices are kept
    with counted(client) as statements:
        page = client.get("/backlog", headers=HTML)
    assert page.status_code == 200
    # The session's user, the portfolio's revision and the bell's count: one round trip.
    assert len(statements) == 1, statements
    assert all(table in statements[0]
               for table in ("user_session", "portfolio_revision", "notification")), statements


def test_the_bell_read_with_the_user_counts_what_came_and_what_was_read_since(
        client: Browser) -> None:
    from sqlalchemy import select
    from sqlmodel import col

    from portfolio.models import Notification, User, UserSession

    db = client.app.state.database
    with db.write() as session:  # the newest session is the client's, signed in last
        user_id = session.execute(select(col(UserSession.user_id)).order_by(
            col(UserSession.created_at).desc()).limit(1)).scalar_one()
        someone_else = session.execute(select(col(User.id)).where(
            col(User.id) != user_id).limit(1)).scalar_one()
        # Another reader's unread notices are not this reader's count.
        for reader in (user_id, someone_else, someone_else):
            session.add(Notification(user_id=reader, kind="question", message="Who owns this?",
                                     link="/backlog"))
    assert 'class="count">1<' in client.get("/backlog", headers=HTML).text
    marked = client.post("/notifications/read", data={}, follow_redirects=False)
    assert marked.status_code == 303, marked.text
    assert " unread<" not in client.get("/backlog", headers=HTML).text


def test_graph_api_queries_do_not_grow_with_the_nodes(client: Browser) -> None:
    client.get("/api/v1/graph")  # the first call builds the whole graph once for this run
    with counted(client) as whole:
        everything = client.get("/api/v1/graph").json()
    with counted(client) as kept:  # a filter over the kept graph
        client.get("/api/v1/graph", params={"theme": "planning"})
    assert len(kept) == len(whole), (kept, whole)
    # With no whole graph kept, a filtered graph is built from the projects it keeps.
    db = client.app.state.database
    db.run_memo.clear()
    client.get("/api/v1/graph", params={"theme": "housing"})  # reads the frames and values
    with counted(client) as small:
        few = client.get("/api/v1/graph", params={"theme": "planning"}).json()
    with counted(client) as large:
        many = client.get("/api/v1/graph", params={"status": "proposed"}).json()
    assert 0 < len(few["nodes"]) < len(many["nodes"]) < len(everything["nodes"])
    assert len(large) == len(small), (large, small)


def test_a_page_not_seen_yet_reads_the_views_extent_once_per_run(client: Browser) -> None:
    with counted(client) as first_unseen:
        assert client.get("/backlog", params={"after": 5}, headers=HTML).status_code == 200
    with counted(client) as second_unseen:
        assert client.get("/backlog", params={"after": 10}, headers=HTML).status_code == 200
    assert [sql for sql in second_unseen if "ranking_row" in sql] != []  # its rows are read
    extent = [sql for sql in first_unseen + second_unseen if "max(ranking_row" in sql]
    assert extent == [], extent  # the first page of the run (the fixture's) read it


def test_a_second_dashboard_view_counts_nothing_again_until_the_portfolio_changes(
        client: Browser) -> None:
    first, _ = dashboard(client)
    second, again = dashboard(client)
    # Its counts over every project are kept per ranking run and ranked revision.
    assert not [sql for sql in again if "GROUP BY project." in sql], again
    assert second == first
    top = client.get("/api/v1/backlog", params={"top": 1}).json()[0]
    edit(client, top["slug"], theme="transport" if top["theme"] != "transport" else "housing")
    changed, after = dashboard(client)
    assert [sql for sql in after if "GROUP BY project." in sql]
    assert changed != first


def test_the_dashboard_reads_the_values_of_projects_resting_on_agreements_only(
        client: Browser) -> None:
    client.app.state.database.memo.clear()
    _, statements = dashboard(client)
    values = [sql for sql in statements
              if "ranking_row.composite" in sql and "project.slug" in sql and "GROUP BY" not in sql
              and "LIMIT" not in sql]
    assert values and all("sharing_agreement_id IS NOT NULL" in sql for sql in values), values


def test_the_dashboard_counts_rag_statuses_again_only_when_a_report_arrives(
        signed_in: SignedIn) -> None:
    admin = signed_in("admin")
    first, _ = dashboard(admin)
    _, again = dashboard(admin)
    assert not [sql for sql in again if "GROUP BY progress_update.project_id" in sql]
    committed = "london-datastore-replatforming"  # GLA, in progress
    reported = admin.post(f"/api/v1/projects/{committed}/progress",
                          json={"rag": "red", "summary": "Supplier failed; re-procuring."})
    assert reported.status_code == 201, reported.text
    changed, after = dashboard(admin)
    assert [sql for sql in after if "GROUP BY progress_update.project_id" in sql]
    assert changed != first


def test_a_title_edit_shows_on_the_dashboard_without_counting_or_computing_again(
        client: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    from portfolio.services import planning

    before, _ = dashboard(client)
    edit(client, client.get("/api/v1/backlog", params={"top": 1}).json()[0]["slug"],
         title="Renamed on the dashboard")
    computed: list[str] = []
    monkeypatch.setattr(planning, "_plumbing", lambda *_a, **_k: computed.append("again") or [])
    after, statements = dashboard(client)
    # The run carried forward names the run it reads; the plumbing computed for that is kept,
    # and a title moves neither a count nor a RAG status.
    assert "Renamed on the dashboard" in after
    assert computed == []
    assert not [sql for sql in statements if "GROUP BY" in sql], statements
    assert plumbing_items(after) == plumbing_items(before) > 0


def plumbing_items(page: str) -> int:
    """Return how many fixes the dashboard's plumbing section lists."""
    section = page.split('id="plumbing"', 1)[1].split("</section>", 1)[0]
    return section.count("<li>")


def test_an_archived_project_leaves_the_dashboard_counts_at_once(client: Browser) -> None:
    def total() -> int:
        found = re.search(r'<p class="meta">(\d+) projects', dashboard(client)[0])
        assert found is not None
        return int(found.group(1))

    before = total()
    assert total() == before  # counted once, kept
    delivered = "bd-social-progress-index"  # delivered in the London seed
    archived = client.post(f"/projects/{delivered}/archive", data={"archived": "true"},
                           follow_redirects=False)
    assert archived.status_code == 303, archived.text
    assert total() == before - 1
