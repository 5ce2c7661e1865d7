"""A secret a page shows once never travels readable in the session cookie.

Found in review: a new API token's secret and an admin's one-time password for a user were kept
for the next page in Starlette's session cookie, which is signed but not encrypted: anyone with
a copy of that one cookie read them offline, and the token outlived a sign-out.
"""

from __future__ import annotations

import base64
import re

import pytest

from portfolio.db import Database
from tests.web.auth import Browser, make_user, sign_in
from tests.web.pages_html import parse_html
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The web layer's cookie: SQLite is enough."""
    return "sqlite"


def cookie_payload(response) -> str:  # type: ignore[no-untyped-def]
    """Return the session cookie a response sets, its signed payload decoded."""
    header = next(v for k, v in response.headers.multi_items()
                  if k.lower() == "set-cookie" and v.startswith("portfolio_session="))
    value = header.split(";", 1)[0].split("=", 1)[1].strip('"')
    payload = value.split(".", 1)[0]
    return base64.b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8", "replace")


def test_a_new_tokens_secret_is_shown_once_and_never_readable_in_the_cookie(
        settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(create_app(settings)) as user:
        sign_in(user, db, "researcher")
        created = user.post("/account/tokens", data={"name": "script", "days": "30"},
                            follow_redirects=False)
        assert created.status_code == 303
        payload = cookie_payload(created)
        assert "ldp_" not in payload  # neither the secret nor its prefix
        page = user.get("/account")
        shown = parse_html(page.text).by_id("token-created").text()
        secret = re.search(r"ldp_[\w-]{20,}", shown).group(0)  # type: ignore[union-attr]
        assert secret not in payload
        assert secret not in user.get("/account").text  # once


def test_a_one_time_password_is_never_readable_in_the_cookie(settings, db: Database) -> None:  # type: ignore[no-untyped-def]
    email = make_user(db, "researcher")
    with Browser(create_app(settings)) as admin:
        sign_in(admin, db, "admin")
        reset = admin.post(f"/admin/users/{email}/password", follow_redirects=False)
        assert reset.status_code == 303
        payload = cookie_payload(reset)
        notice = parse_html(admin.get("/admin/users").text).by_id("one-time")
    password = notice.find("code").text().strip()  # type: ignore[union-attr]
    assert len(password) > 10
    assert password not in payload and email not in payload
