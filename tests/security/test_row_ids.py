"""Ids typed into pages' addresses and forms: one past what a row id can be is refused in words.

Found in review: on PostgreSQL a comment's id past the bigint range in the address of its edit
or remove form, a notification's in the form marking it read (on SQLite refused as out of
range), a snapshot's in the comparison's address, and the version a project was archived or
moved from, or a weight profile's weights set from (pages' forms and the API), were 500s from
the driver; the API's routes already bound their ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portfolio.db import Database
from portfolio.services import profiles as profile_service
from tests.factories import make_project
from tests.web.auth import Browser, sign_in
from web.app import create_app

TOO_LARGE = str(2**63)


@pytest.fixture
def lead(db: Database, app) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Yield a browser signed in as the borough's lead."""
    with Browser(app, raise_server_exceptions=False) as client:
        sign_in(client, db, "lead", "E09000002")
        yield client


@pytest.mark.parametrize("action", ["edit", "remove"])
def test_a_comment_id_out_of_range_is_refused(lead: Browser, action: str) -> None:
    answer = lead.post(f"/projects/one-view/comments/{TOO_LARGE}/{action}",
                       data={"body": "Changed"}, follow_redirects=False)
    assert answer.status_code in (404, 422), answer.text


def test_marking_a_notification_read_by_an_id_out_of_range_marks_none(lead: Browser) -> None:
    answer = lead.post("/notifications/read", data={"id": TOO_LARGE}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert "0 notifications marked read" in lead.get("/notifications").text


@pytest.mark.parametrize("path", ["/snapshots/compare", "/snapshots/compare.csv"])
def test_comparing_snapshots_by_ids_out_of_range_is_refused(lead: Browser, path: str) -> None:
    answer = lead.get(path, params={"a": TOO_LARGE, "b": TOO_LARGE})
    assert answer.status_code in (404, 422), answer.text


def test_archiving_from_a_version_out_of_range_is_refused_in_words(lead: Browser,
                                                                    db: Database) -> None:
    with db.write() as session:
        make_project(session, "delivered-view", status="delivered")
    answer = lead.post("/projects/delivered-view/archive",
                       data={"archived": "true", "version": TOO_LARGE}, follow_redirects=False)
    assert answer.status_code == 422, answer.text
    assert "version" in answer.text


@pytest.mark.parametrize("via", ["page", "api"])
def test_moving_from_a_version_out_of_range_is_refused_in_words(lead: Browser, via: str) -> None:
    if via == "page":
        answer = lead.post("/projects/one-view/status",
                           data={"to": "proposed", "version": TOO_LARGE}, follow_redirects=False)
    else:
        answer = lead.post("/api/v1/projects/one-view/status",
                           json={"status": "proposed", "version": int(TOO_LARGE)})
    assert answer.status_code == 422, answer.text
    assert "version" in answer.text


def test_weights_set_from_a_version_out_of_range_are_refused_in_words(settings,
                                                                      london: Database) -> None:
    with london.read() as session:
        profile = profile_service.list_profiles(session=session)[0]
    with Browser(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client, london, "cdo")
        answer = client.put(f"/api/v1/profiles/{profile['name']}", json={
            "dimension_weights": profile["weights"]["dimension"],
            "criterion_weights": profile["weights"]["criterion"], "version": int(TOO_LARGE)})
    assert answer.status_code == 422, answer.text
    assert "version" in answer.text
