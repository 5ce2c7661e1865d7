"""A reviewer's question on PostgreSQL: two answers at once never write over each other."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import ReviewDecision
from portfolio.services import reviews
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

PROPOSED = "bd-propensity-to-pay"  # Barking and Dagenham's, proposed


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these writes anyway)."""
    return "postgresql"


def test_an_answer_sent_while_another_lead_answers_is_refused_with_the_text_kept(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("lead", "E09000002", html=True)
    cdo = signed_in("cdo", html=True)
    cdo.post(f"/projects/{PROPOSED}/decision", data={
        "csrf_token": cdo.csrf, "decision": "needs_information",
        "rationale": "Which datasets does it use?"})

    # Bob's answer is written, not yet committed, when Alice's arrives.
    def meanwhile(session: Session) -> None:
        reviews.answer_question(session=session, actor=SYSTEM, slug=PROPOSED,
                                answer="Bob: housing benefit records.")

    answer = sent_while_held(london, meanwhile, lambda: alice.post(
        f"/projects/{PROPOSED}/answer", data={
            "csrf_token": alice.csrf, "answer": "Alice: council tax accounts."},
        follow_redirects=False))
    assert answer.status_code == 422, answer.text[:300]
    page = parse_html(answer.text)
    assert page.by_id("q-answer").text() == "Alice: council tax accounts."
    assert "answered meanwhile" in page.by_id("q-answer-error").text()
    with london.read() as session:
        answered = session.execute(select(ReviewDecision.answer).where(
            ReviewDecision.answer.is_not(None))).scalars().all()  # type: ignore[union-attr]
    assert answered == ["Bob: housing benefit records."]
