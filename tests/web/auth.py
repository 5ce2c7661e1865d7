"""Signed-in test clients: a user per role, a session cookie and the CSRF header htmx sends."""

from __future__ import annotations

import itertools
import re
from typing import Any

from fastapi.testclient import TestClient

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import accounts

PASSWORD = "correct horse battery staple"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_numbers = itertools.count(1)


class Browser(TestClient):
    """A test client that, once signed in, sends the session's CSRF token like htmx does."""

    csrf: str | None = None

    def request(self, method: str, url: Any, **kwargs: Any):  # type: ignore[override]
        if self.csrf and method.upper() in UNSAFE:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRF-Token", self.csrf)
            kwargs["headers"] = headers
        return super().request(method, url, **kwargs)


def make_user(db: Database, role: str, organisation: str | None = None) -> str:
    """Create a user with the test password and return their email."""
    email = f"{role}-{next(_numbers)}@example.london"
    with db.write() as session:
        accounts.add_user(session=session, actor=SYSTEM, password=PASSWORD,
                          data={"email": email, "name": f"Test {role}", "role": role,
                                "organisation": organisation})
    return email


def page_csrf(client: TestClient) -> str:
    """Read the CSRF token from the sign-in page of the client's session."""
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client: Browser, db: Database, role: str = "admin",
            organisation: str | None = None) -> str:
    """Create a user of a role and sign the client in as them; return the email."""
    email = make_user(db, role, organisation)
    client.csrf = None
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": page_csrf(client), "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    client.csrf = page_csrf(client)
    return email


def token_for(db: Database, role: str, organisation: str | None = None) -> str:
    """Create a user of a role with an API token and return the token."""
    email = make_user(db, role, organisation)
    with db.write() as session:
        actor = accounts.actor_for_token  # noqa: F841 - keeps the import honest
        from sqlalchemy import select

        from portfolio.models import User
        user = session.execute(select(User).where(User.email == email)).scalars().one()
        created = accounts.create_token(session=session, actor=accounts.actor_for(user),
                                        name="test")
    return created["token"]
