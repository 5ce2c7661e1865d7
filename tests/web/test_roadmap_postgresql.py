"""Capacities on PostgreSQL: one stated twice at once is never a server error."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import roadmap
from tests.racing import sent_while_held
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
    action = "/plan/capacity/remove" if remove else "/plan/capacity"

    def meanwhile(session: Session) -> None:
        if remove:
            roadmap.remove_capacity(session=session, actor=SYSTEM,
                                    organisation="GLA", quarter=STATED["quarter"])
        else:
            roadmap.set_capacity(session=session, actor=SYSTEM, **STATED | {
                "person_months": "30"})

    answer = sent_while_held(london, meanwhile, lambda: cdo.post(
        action, data={"csrf_token": cdo.csrf, **STATED}, follow_redirects=False))
    assert answer.status_code == (422 if remove else 303), answer.text[:400]
