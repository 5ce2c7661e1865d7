"""A saved scenario on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import scenarios
from tests.racing import waiting_for_a_lock
from tests.web.conftest import SignedIn


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


def test_a_scenario_saved_while_another_saves_it_is_a_clash_not_an_overwrite(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("cdo")
    with london.write() as session:
        made = scenarios.create_scenario(session=session, actor=SYSTEM, data={
            "name": "Lean", "budget": 1_500_000, "capacity": 120})
    outcome: dict[str, Any] = {}

    def alice_saves() -> None:
        try:
            response = alice.put(f"/api/v1/scenarios/{made['id']}",
                                 json={"budget": 700_000, "version": made["version"]})
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["body"] = 500, repr(exc)
            return
        outcome["status"], outcome["body"] = response.status_code, response.text

    # Bob's budget is saved, not yet committed, when Alice's arrives.
    with london.write() as session:
        scenarios.update_scenario(session=session, actor=SYSTEM, scenario_id=made["id"],
                                  data={"budget": 900_000, "version": made["version"]})
        other = threading.Thread(target=alice_saves)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 409, outcome["body"][:300]
    assert alice.get(f"/api/v1/scenarios/{made['id']}").json()["budget"] == 900_000
