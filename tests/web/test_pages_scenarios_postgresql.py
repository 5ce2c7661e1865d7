"""A saved scenario on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import scenarios
from tests.racing import sent_while_held
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

    # Bob's budget is saved, not yet committed, when Alice's arrives.
    def meanwhile(session: Session) -> None:
        scenarios.update_scenario(session=session, actor=SYSTEM, scenario_id=made["id"],
                                  data={"budget": 900_000, "version": made["version"]})

    answer = sent_while_held(london, meanwhile, lambda: alice.put(
        f"/api/v1/scenarios/{made['id']}", json={"budget": 700_000, "version": made["version"]}))
    assert answer.status_code == 409, answer.text[:300]
    assert alice.get(f"/api/v1/scenarios/{made['id']}").json()["budget"] == 900_000
