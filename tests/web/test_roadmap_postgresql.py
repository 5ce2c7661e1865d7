"""Capacities on PostgreSQL: one stated twice at once is never a server error."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import roadmap
from tests.racing import waiting_for_a_lock
from tests.web.conftest import SignedIn

STATED = {"organisation": "GLA", "quarter": "2031 Q1", "person_months": "40"}


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these writes)."""
    return "postgresql"


@pytest.mark.parametrize("remove", [False, True], ids=["stated", "removed"])
def test_a_capacity_stated_or_removed_twice_at_once_is_never_a_server_error(
        signed_in: SignedIn, london: Database, remove: bool) -> None:
    cdo = signed_in("cdo", html=True)
    if remove:
        with london.write() as session:
            roadmap.set_capacity(session=session, actor=SYSTEM, **STATED)
    outcome: dict[str, Any] = {}

    def the_cdo_writes() -> None:
        action = "/plan/capacity/remove" if remove else "/plan/capacity"
        try:
            response = cdo.post(action, data={"csrf_token": cdo.csrf, **STATED},
                                follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    with london.write() as session:
        if remove:
            roadmap.remove_capacity(session=session, actor=SYSTEM,
                                    organisation="GLA", quarter=STATED["quarter"])
        else:
            roadmap.set_capacity(session=session, actor=SYSTEM, **STATED | {
                "person_months": "30"})
        other = threading.Thread(target=the_cdo_writes)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == (422 if remove else 303), outcome["page"][:400]
