"""An admin's API token manages users but never gives anyone a password it then knows.

Found in review: the users page's forms accept a token (and skip the CSRF check for it), so a
leaked admin token reset another admin's password, the one-time password coming back in the
answer's session cookie, or added a user with a password of its choosing; signed in with
either, the holder made fresh tokens and outlived the leaked token's revocation.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import User
from tests.web.auth import Browser, make_user, token_for
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The service's check, through the web layer: SQLite is enough."""
    return "sqlite"


def password_hash(db: Database, email: str) -> str | None:
    with db.read() as session:
        return session.execute(select(User.password_hash).where(User.email == email)).scalar()


def test_an_admin_token_cannot_reset_another_users_password(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    token = token_for(db, "admin")
    other = make_user(db, "admin")
    before = password_hash(db, other)
    with Browser(create_app(settings)) as client:
        answer = client.post(f"/admin/users/{other}/password",
                             headers={"Authorization": f"Bearer {token}"},
                             follow_redirects=False)
    assert answer.status_code == 403, answer.text
    assert "API token" in answer.text
    assert password_hash(db, other) == before


def test_an_admin_token_cannot_add_a_user_with_a_password(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    token = token_for(db, "admin")
    with Browser(create_app(settings)) as client:
        answer = client.post("/admin/users", headers={"Authorization": f"Bearer {token}"},
                             data={"email": "minted@example.london", "name": "Minted",
                                   "role": "admin", "password": "a long chosen passphrase"},
                             follow_redirects=False)
    assert answer.status_code == 403, answer.text
    with db.read() as session:
        assert session.execute(select(User.id).where(User.email == "minted@example.london")
                               ).first() is None
