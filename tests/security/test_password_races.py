"""An admin's password reset is never undone by a check of the old password running beside it.

Found in review: a sign-in that rehashed the password, or a password change, checked the hash
read before the reset and then wrote over the reset one, so whoever held the old password kept
the account the admin had just taken back.
"""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from portfolio.db import Database
from portfolio.models import User
from portfolio.services import accounts
from tests.web.auth import PASSWORD, Browser, make_user, page_csrf, sign_in


class ResetWhileChecking:
    """The app's hasher; while it checks a password, an admin resets that user's password."""

    def __init__(self, hasher: Any, db: Database, email: str) -> None:
        self.hasher, self.db, self.email = hasher, db, email
        self.one_time: str | None = None

    def verify(self, hash_: str, password: str) -> Any:
        if self.one_time is None:
            with self.db.write() as session:
                admin = accounts.actor_for(session.execute(
                    select(User).where(User.role == "admin")).scalars().first())
                self.one_time = accounts.reset_password(session=session, actor=admin,
                                                        email=self.email)
        return self.hasher.verify(hash_, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.hasher, name)


def works(db: Database, email: str, password: str) -> bool:
    with db.read() as session:
        stored = session.execute(select(User.password_hash).where(User.email == email)
                                 ).scalar_one()
    try:
        return bool(accounts.HASHER.verify(stored, password))
    except Exception:
        return False


def test_a_sign_in_beside_a_reset_neither_signs_in_nor_undoes_the_reset(
        app, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    make_user(db, "admin")
    email = make_user(db, "lead", "E09000002")
    with db.write() as session:  # a hash from before the Argon2 parameters were raised
        session.execute(update(User).where(User.email == email).values(
            password_hash=PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)))
    hasher = ResetWhileChecking(accounts.HASHER, db, email)
    monkeypatch.setattr(accounts, "HASHER", hasher)
    with Browser(app) as browser:
        answer = browser.post("/login", data={"email": email, "password": PASSWORD,
                                              "csrf_token": page_csrf(browser)},
                              follow_redirects=False)
        assert answer.status_code == 401
        assert browser.get("/account", follow_redirects=False).status_code == 303
    monkeypatch.setattr(accounts, "HASHER", hasher.hasher)
    assert hasher.one_time and works(db, email, hasher.one_time)
    assert not works(db, email, PASSWORD)


def test_a_password_change_beside_a_reset_is_refused_and_the_reset_stands(
        app, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    make_user(db, "admin")
    with Browser(app) as browser:
        email = sign_in(browser, db, "lead", "E09000002")
        hasher = ResetWhileChecking(accounts.HASHER, db, email)
        monkeypatch.setattr(accounts, "HASHER", hasher)
        answer = browser.post("/account/password", follow_redirects=False, data={
            "current_password": PASSWORD, "new_password": "a passphrase the thief chose",
            "repeat_password": "a passphrase the thief chose"})
        assert answer.status_code == 409, answer.text[:300]
    monkeypatch.setattr(accounts, "HASHER", hasher.hasher)
    assert hasher.one_time and works(db, email, hasher.one_time)
    assert not works(db, email, "a passphrase the thief chose")
    with db.read() as session:
        assert session.execute(select(User.must_change_password).where(User.email == email)
                               ).scalar_one()
