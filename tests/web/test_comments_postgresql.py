"""A comment on PostgreSQL: an edit waiting on its removal is refused, never written into it."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import ProjectComment
from portfolio.services import comments
from tests.racing import waiting_for_a_lock
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

PROPOSED = "bd-propensity-to-pay"  # Barking and Dagenham's


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these writes anyway)."""
    return "postgresql"


def test_an_edit_of_a_comment_being_removed_is_refused_with_the_text_kept(
        signed_in: SignedIn, london: Database) -> None:
    lead = signed_in("lead", "E09000002", html=True)
    lead.post(f"/projects/{PROPOSED}/comments", data={"csrf_token": lead.csrf,
                                                       "body": "First draft"})
    with london.read() as session:
        cid = session.execute(select(ProjectComment.id)).scalar_one()
    outcome: dict[str, Any] = {}

    def the_author_edits() -> None:
        try:
            response = lead.post(f"/projects/{PROPOSED}/comments/{cid}/edit",
                                 data={"csrf_token": lead.csrf, "body": "My fix"})
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    # A moderator's removal is written, not yet committed, when the author's edit arrives.
    with london.write() as session:
        comments.remove_comment(session=session, actor=SYSTEM, comment_id=cid)
        other = threading.Thread(target=the_author_edits)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 404, outcome["page"][:300]
    assert parse_html(outcome["page"]).by_id("c-body").text() == "My fix"
    with london.read() as session:
        assert session.get(ProjectComment, cid).body == ""  # type: ignore[union-attr]
