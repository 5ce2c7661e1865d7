"""Guessing the current password on the password form meets the sign-in limits.

Found in review: sign-in is limited per account and per client (README, Security), but the
password form at /account/password checked the current password any number of times, so
whoever held a signed-in browser (a shared computer, a copied cookie) could guess the password
there without limit and keep the account after the session ended.
"""

from __future__ import annotations

import pytest

from portfolio.db import Database


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_wrong_current_passwords_are_limited_like_sign_ins(signed_in, london: Database  # type: ignore[no-untyped-def]
                                                           ) -> None:
    browser = signed_in("researcher")
    statuses = [browser.post("/account/password", follow_redirects=False, data={
        "current_password": f"guess number {n}", "new_password": "a new long passphrase",
        "repeat_password": "a new long passphrase"}).status_code for n in range(12)]
    assert statuses[0] == 422
    assert 429 in statuses, statuses
