"""User administration in the accounts service: what a change of role or access may do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.models import User
from portfolio.services import accounts
from portfolio.services import organisations as organisation_service


def add(db: Database, email: str, role: str, organisation: str | None = None) -> None:
    with db.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, data={
            "email": email, "name": email.split("@")[0], "role": role,
            "organisation": organisation})


def stored(db: Database, email: str) -> tuple[str | None, bool]:
    with db.read() as session:
        user = session.execute(select(User).where(User.email == email)).scalars().one()
        return user.role, user.is_active


@pytest.fixture
def only_admin(db: Database) -> str:
    """Return the email of the portfolio's one active admin (another admin is switched off)."""
    add(db, "ada@example.london", "admin")
    add(db, "former@example.london", "admin")
    with db.write() as session:
        accounts.update_user(session=session, actor=SYSTEM, email="former@example.london",
                             is_active=False)
    return "ada@example.london"


@pytest.mark.parametrize(("change", "field"), [({"role": "cdo"}, "role"),
                                               ({"is_active": False}, "active"),
                                               ({"role": "researcher", "is_active": False},
                                                "role")])
def test_the_last_active_admin_keeps_the_admin_role_and_access(
        db: Database, only_admin: str, change: dict, field: str) -> None:
    with db.write() as session, pytest.raises(Invalid) as refused:
        accounts.update_user(session=session, actor=SYSTEM, email=only_admin, **change)
    assert refused.value.errors == {field: "ada@example.london is the only active admin: "
                                           "make someone else an admin first."}
    assert stored(db, only_admin) == ("admin", True)


def test_the_last_active_admin_may_still_change_organisation(db: Database,
                                                             only_admin: str) -> None:
    with db.write() as session:
        organisation_service.create_organisation(session=session, actor=SYSTEM, data={
            "code": "CAM", "name": "Camden", "kind": "borough"})
        changed = accounts.update_user(session=session, actor=SYSTEM, email=only_admin,
                                       role="admin", organisation="CAM", is_active=True)
    assert changed["organisation"] == "CAM"


def test_an_admin_steps_down_once_a_switched_off_admin_is_back(db: Database,
                                                               only_admin: str) -> None:
    with db.write() as session:
        accounts.update_user(session=session, actor=SYSTEM, email="former@example.london",
                             is_active=True)
        accounts.update_user(session=session, actor=SYSTEM, email=only_admin, is_active=False)
    assert stored(db, only_admin) == ("admin", False)
    assert stored(db, "former@example.london") == ("admin", True)


def test_a_researcher_made_a_lead_of_an_organisation_is_saved(db: Database) -> None:
    add(db, "rita@example.london", "researcher")
    with db.write() as session:
        organisation_service.create_organisation(session=session, actor=SYSTEM, data={
            "code": "CAM", "name": "Camden", "kind": "borough"})
        accounts.update_user(session=session, actor=SYSTEM, email="rita@example.london",
                             role="lead", organisation="CAM")
    assert stored(db, "rita@example.london") == ("lead", True)
