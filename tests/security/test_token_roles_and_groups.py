"""An admin's API token never changes who holds power: roles, users and group mappings.

Found in review: the users page's and the groups page's forms accept a token (and skip the CSRF
check for it), so a leaked admin token made any account an admin, switched an admin off, or
mapped a provider group to the admin role, all without a signed-in person; the service also
added an account with a role for a token when no password came with it. The same hole was
closed for passwords (test_token_user_credentials.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import NotAllowed
from portfolio.models import GroupMapping, User
from portfolio.services import accounts
from tests.web.auth import Browser, make_user, sign_in, token_for
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The service's check, through the web layer: SQLite is enough."""
    return "sqlite"


def user_row(db: Database, email: str) -> tuple[str | None, bool]:
    with db.read() as session:
        role, active = session.execute(select(User.role, User.is_active)
                                       .where(User.email == email)).one()
    return role, active


def mappings(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(GroupMapping)).scalar_one()


def test_an_admin_token_cannot_change_a_users_role_or_access(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    bearer = {"Authorization": f"Bearer {token_for(db, 'admin')}"}
    researcher, admin = make_user(db, "researcher"), make_user(db, "admin")
    with Browser(create_app(settings)) as client:
        promote = client.post(f"/admin/users/{researcher}", headers=bearer,
                              data={"role": "admin", "active": "on"}, follow_redirects=False)
        switch_off = client.post(f"/admin/users/{admin}", headers=bearer,
                                 data={"role": "admin"}, follow_redirects=False)
    assert (promote.status_code, switch_off.status_code) == (403, 403), promote.text
    assert "API token" in promote.text
    assert user_row(db, researcher) == ("researcher", True)
    assert user_row(db, admin) == ("admin", True)


def test_an_admin_token_cannot_add_a_user_even_without_a_password(db: Database) -> None:
    # The users page always sends a password (refused already); the service itself must refuse
    # a token's new account too, whose role is power (an admin signing in through a provider).
    token_actor = replace(SYSTEM, id=1, by_token=True)
    with db.write() as session, pytest.raises(NotAllowed, match="API token"):
        accounts.add_user(session=session, actor=token_actor,
                          data={"email": "minted@example.london", "name": "Minted",
                                "role": "admin"})


def test_an_admin_token_cannot_map_or_unmap_a_providers_groups(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    with Browser(app) as person:
        sign_in(person, db, "admin")
        made = person.post("/admin/groups", data={"group": "it-staff", "role": "researcher"},
                           follow_redirects=False)
        assert made.status_code == 303, made.text
    with db.read() as session:
        kept = session.execute(select(GroupMapping.id)).scalar_one()
    bearer = {"Authorization": f"Bearer {token_for(db, 'admin')}"}
    with Browser(app) as client:
        add = client.post("/admin/groups", headers=bearer, follow_redirects=False,
                          data={"group": "everyone", "role": "admin"})
        remove = client.post(f"/admin/groups/{kept}/remove", headers=bearer,
                             follow_redirects=False)
        listed = client.get("/admin/groups", headers=bearer)
    assert (add.status_code, remove.status_code) == (403, 403), add.text
    assert "API token" in add.text
    assert mappings(db) == 1
    # Reading who holds what is not a change of power: a token still may.
    assert listed.status_code == 200 and "it-staff" in listed.text
