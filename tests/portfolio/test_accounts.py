"""User administration in the accounts service: what a change of role or access may do."""

from __future__ import annotations

from sqlalchemy import select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import User
from portfolio.services import accounts
from portfolio.services import organisations as organisation_service


def add(db: Database, email: str, role: str, organisation: str | None = None) -> None:
    with db.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, data={
            "email": email, "name": email, "role": role, "organisation": organisation})


def stored(db: Database, email: str) -> tuple[str | None, bool]:
    with db.read() as session:
        user = session.execute(select(User).where(User.email == email)).scalars().one()
        return user.role, user.is_active


def test_a_researcher_made_a_lead_of_an_organisation_is_saved(db: Database) -> None:
    add(db, "rita@example.london", "researcher")
    with db.write() as session:
        organisation_service.create_organisation(session=session, actor=SYSTEM, data={
            "code": "CAM", "name": "Camden", "kind": "borough"})
        accounts.update_user(session=session, actor=SYSTEM, email="rita@example.london",
                             role="lead", organisation="CAM")
    assert stored(db, "rita@example.london") == ("lead", True)
