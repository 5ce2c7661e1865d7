"""A comment on PostgreSQL: an edit waiting on its removal is refused, never written into it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import ProjectComment
from portfolio.services import comments
from tests.racing import sent_while_held
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

    # A moderator's removal is written, not yet committed, when the author's edit arrives.
    def meanwhile(session: Session) -> None:
        comments.remove_comment(session=session, actor=SYSTEM, comment_id=cid, edit_minutes=15)

    answer = sent_while_held(london, meanwhile, lambda: lead.post(
        f"/projects/{PROPOSED}/comments/{cid}/edit",
        data={"csrf_token": lead.csrf, "body": "My fix"}))
    assert answer.status_code == 404, answer.text[:300]
    assert parse_html(answer.text).by_id("c-body").text() == "My fix"
    with london.read() as session:
        assert session.get(ProjectComment, cid).body == ""  # type: ignore[union-attr]
