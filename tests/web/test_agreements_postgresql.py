"""An agreement's edit on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import agreements
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from tests.web.test_agreements import GOOD, form_of


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


def test_an_agreement_saved_while_another_saves_it_is_a_clash_not_an_overwrite(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("cdo", html=True)
    with london.write() as session:
        agreements.create_agreement(session=session, actor=SYSTEM, data=GOOD)
    form = form_of(parse_html(alice.get("/agreements/nel-housing-dsa/edit").text))

    # Bob's edit is saved, not yet committed, when Alice's form arrives.
    def meanwhile(session: Session) -> None:
        agreements.update_agreement(session=session, actor=SYSTEM, code="nel-housing-dsa",
                                    data=GOOD | {"version": 1, "title": "Bob's title"})

    answer = sent_while_held(london, meanwhile, lambda: alice.post(
        "/agreements/nel-housing-dsa/edit", data=form | {"title": "Alice's title"},
        follow_redirects=False))
    assert answer.status_code == 409, answer.text[:300]
    page = parse_html(answer.text)
    assert page.by_id("f-title").get("value") == "Alice's title"
    assert "Bob&#39;s title" in answer.text or "Bob's title" in page.error_for("f-title")
    got = alice.get("/api/v1/agreements/nel-housing-dsa",
                    headers={"accept": "application/json"}).json()
    assert got["title"] == "Bob's title"
