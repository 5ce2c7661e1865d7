"""API tokens on PostgreSQL: two made at once under one name are a refusal, not two tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portfolio.db import Database
from portfolio.models import User
from portfolio.services import accounts
from portfolio.settings import Settings
from tests.racing import sent_while_held
from tests.web.auth import Browser, sign_in
from tests.web.pages_html import parse_html
from tests.web.test_pages_accounts import token_count
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """PostgreSQL's concurrent writers (SQLite's one writer makes the two one after another)."""
    return "postgresql"


def test_a_token_named_while_another_of_that_name_is_made_is_refused(
        settings: Settings, db: Database) -> None:
    # Found in review: both checks saw no token of the name, so the user held two.
    with Browser(create_app(settings)) as browser:
        email = sign_in(browser, db, "researcher")

        def made_elsewhere(session: Session) -> None:
            user = session.execute(select(User).where(User.email == email)).scalars().one()
            accounts.create_token(session=session, actor=accounts.actor_for(user),
                                  name="nightly")

        answer = sent_while_held(db, made_elsewhere, lambda: browser.post(
            "/account/tokens", data={"name": "Nightly", "days": "7"}, follow_redirects=False))
        assert answer.status_code == 303
        page = parse_html(browser.get("/account").text)
    assert page.error_for("token-name").startswith("You already have a token called 'Nightly'")
    assert token_count(db) == 1
