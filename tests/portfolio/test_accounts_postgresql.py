"""Two admins demoting each other at the same moment on PostgreSQL still leave one admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.models import User
from portfolio.services import accounts
from tests.racing import sent_while_held


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these writes anyway)."""
    return "postgresql"


def test_two_admins_demoting_each_other_at_once_leave_one_admin(db: Database) -> None:
    for email in ("ada@example.london", "bea@example.london"):
        with db.write() as session:
            accounts.add_user(session=session, actor=SYSTEM, data={
                "email": email, "name": email.split("@")[0], "role": "admin"})

    def demote_bea() -> str:
        try:
            with db.write() as session:
                accounts.update_user(session=session, actor=SYSTEM,
                                     email="bea@example.london", role="researcher")
            return "demoted"
        except Invalid as refused:
            return refused.errors["role"]

    # Until Ada's demotion commits, Bea's must wait for it rather than count Ada as an admin.
    bea = sent_while_held(db, lambda session: accounts.update_user(
        session=session, actor=SYSTEM, email="ada@example.london", role="researcher"),
        demote_bea)
    assert bea == ("bea@example.london is the only active admin: "
                   "make someone else an admin first.")
    with db.read() as session:
        admins = session.execute(select(User.email).where(User.role == "admin")).scalars()
        assert list(admins) == ["bea@example.london"]
