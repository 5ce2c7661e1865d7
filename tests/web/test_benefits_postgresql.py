"""Benefits recorded on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import benefits
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from tests.web.test_benefits import BARKING, TYPED, URL, hidden

SLUG = URL.split("/")[2]
THEIRS = {"people_reached": 10, "measured_on": "2018-04-30", "outcome": "B's outcome"}


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


def _bob_records(session: Session) -> None:
    """Bob's record: written, then held uncommitted while Alice's form arrives."""
    benefits.record_benefits(session=session, actor=SYSTEM, slug=SLUG, data=THEIRS)


@pytest.mark.parametrize("recorded_before", [False, True],
                         ids=["first record", "correction"])
def test_benefits_recorded_while_another_records_them_are_a_clash_not_an_overwrite(
        signed_in: SignedIn, london: Database, recorded_before: bool) -> None:
    alice = signed_in("lead", BARKING, html=True)
    if recorded_before:
        with london.write() as session:
            benefits.record_benefits(session=session, actor=SYSTEM, slug=SLUG,
                                     data=THEIRS | {"outcome": "First outcome"})
    form = hidden(alice.get(URL).text)
    answer = sent_while_held(london, _bob_records, lambda: alice.post(
        URL, data=form | TYPED, follow_redirects=False))
    assert answer.status_code == 409, answer.text[:300]
    page = parse_html(answer.text)
    assert page.by_id("b-outcome").text() == "A's measured outcome"
    assert "B&#39;s outcome" in answer.text
    assert alice.get(f"/api/v1{URL}").json()["outcome"] == "B's outcome"
