"""A password changed or reset revokes the user's API tokens: a leaked token dies with it.

Found in review: a reset (by an admin) or a change (by the user) ended the user's sessions but
left their API tokens working, so whoever had copied one kept acting as the user after the
password that let them copy it was replaced.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import User
from portfolio.services import accounts
from tests.web.auth import PASSWORD, Browser, make_user, sign_in
from tests.web.pages_html import parse_html
from web.app import create_app

NEW_PASSWORD = "a fresh passphrase of mine"


@pytest.fixture
def backend() -> str:
    """The service's rule, through the web layer: SQLite is enough."""
    return "sqlite"


def token_of(db: Database, email: str) -> str:
    """Make an API token for a user and return its secret."""
    with db.write() as session:
        user = session.execute(select(User).where(User.email == email)).scalars().one()
        return accounts.create_token(session=session, actor=accounts.actor_for(user),
                                     name="script")["token"]


def works(app, token: str) -> bool:  # type: ignore[no-untyped-def]
    """Tell whether the API still answers a token."""
    with Browser(app) as api:
        answer = api.get("/api/v1/organisations", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def test_an_admin_reset_revokes_the_users_api_tokens_and_says_so(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    email = make_user(db, "researcher")
    token = token_of(db, email)
    assert works(app, token)
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        admin.post(f"/admin/users/{email}/password", follow_redirects=False)
        notice = parse_html(admin.get("/admin/users").text).by_id("one-time").text()
    assert not works(app, token)
    assert "API tokens are revoked" in notice


def test_changing_ones_own_password_revokes_ones_api_tokens_and_says_so(
        settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    with Browser(app) as browser:
        email = sign_in(browser, db, "cdo")
        token = token_of(db, email)
        assert works(app, token)
        browser.post("/account/password", data={
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD, "next": "/account"}, follow_redirects=False)
        page = browser.get("/account").text
    assert not works(app, token)
    assert "your API tokens are revoked" in page
