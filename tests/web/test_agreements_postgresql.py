"""An agreement's edit on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import agreements
from tests.racing import waiting_for_a_lock
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
    outcome: dict[str, Any] = {}

    def alice_saves() -> None:
        try:
            response = alice.post("/agreements/nel-housing-dsa/edit",
                                  data=form | {"title": "Alice's title"}, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    # Bob's edit is saved, not yet committed, when Alice's form arrives.
    with london.write() as session:
        agreements.update_agreement(session=session, actor=SYSTEM, code="nel-housing-dsa",
                                    data=GOOD | {"version": 1, "title": "Bob's title"})
        other = threading.Thread(target=alice_saves)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 409, outcome["page"][:300]
    page = parse_html(outcome["page"])
    assert page.by_id("f-title").get("value") == "Alice's title"
    assert "Bob&#39;s title" in outcome["page"] or "Bob's title" in page.error_for("f-title")
    got = alice.get("/api/v1/agreements/nel-housing-dsa",
                    headers={"accept": "application/json"}).json()
    assert got["title"] == "Bob's title"
