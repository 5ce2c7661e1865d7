"""Benefits recorded on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import benefits
from tests.racing import waiting_for_a_lock
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from tests.web.test_benefits import BARKING, TYPED, URL, hidden

SLUG = URL.split("/")[2]
THEIRS = {"people_reached": 10, "measured_on": "2018-04-30", "outcome": "B's outcome"}


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


def _while_bob_records(london: Database, post: Any) -> dict[str, Any]:
    """Post Alice's form while Bob's record is written but not yet committed."""
    outcome: dict[str, Any] = {}

    def alice_saves() -> None:
        try:
            response = post()
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    with london.write() as session:
        benefits.record_benefits(session=session, actor=SYSTEM, slug=SLUG, data=THEIRS)
        other = threading.Thread(target=alice_saves)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    return outcome


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
    outcome = _while_bob_records(london, lambda: alice.post(
        URL, data=form | TYPED, follow_redirects=False))
    assert outcome["status"] == 409, outcome["page"][:300]
    page = parse_html(outcome["page"])
    assert page.by_id("b-outcome").text() == "A's measured outcome"
    assert "B&#39;s outcome" in outcome["page"]
    assert alice.get(f"/api/v1{URL}").json()["outcome"] == "B's outcome"
