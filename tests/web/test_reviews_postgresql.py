"""A reviewer's question on PostgreSQL: two answers at once never write over each other."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import ReviewDecision
from portfolio.services import reviews
from tests.racing import waiting_for_a_lock
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
    outcome: dict[str, Any] = {}

    def alice_answers() -> None:
        try:
            response = alice.post(f"/projects/{PROPOSED}/answer", data={
                "csrf_token": alice.csrf, "answer": "Alice: council tax accounts."},
                follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    # Bob's answer is written, not yet committed, when Alice's arrives.
    with london.write() as session:
        reviews.answer_question(session=session, actor=SYSTEM, slug=PROPOSED,
                                answer="Bob: housing benefit records.")
        other = threading.Thread(target=alice_answers)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 422, outcome["page"][:300]
    page = parse_html(outcome["page"])
    assert page.by_id("q-answer").text() == "Alice: council tax accounts."
    assert "answered meanwhile" in page.by_id("q-answer-error").text()
    with london.read() as session:
        answered = session.execute(select(ReviewDecision.answer).where(
            ReviewDecision.answer.is_not(None))).scalars().all()  # type: ignore[union-attr]
    assert answered == ["Bob: housing benefit records."]
