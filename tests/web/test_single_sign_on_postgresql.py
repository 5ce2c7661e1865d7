"""A first sign-in through the provider from two browsers at once on PostgreSQL: both sign in.

The first sign-in of a person creates their user and links their identity to it; a sign-in
meanwhile from another browser did not see that user until it committed, created it too, and
met the email's unique constraint as a 500.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from portfolio.db import Database
from portfolio.models import ExternalIdentity, User
from portfolio.oidc import Identity
from portfolio.services import identities
from portfolio.settings import Settings
from tests.oidc_provider import approve, oidc_issuer, set_user  # noqa: F401 - the fixture
from tests.racing import sent_while_held
from tests.web.auth import Browser
from tests.web.test_single_sign_on import CLIENT_ID, map_group
from web.app import create_app

EMAIL = "dana@council.example"


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises these writes)."""
    return "postgresql"


@pytest.fixture
def client(settings: Settings, db: Database, oidc_issuer: str) -> Iterator[Browser]:  # noqa: F811
    sso = settings.model_copy(update={"oidc_issuer": oidc_issuer, "oidc_client_id": CLIENT_ID,
                                      "oidc_client_secret": "secret"})
    with Browser(create_app(sso)) as browser:
        yield browser


def test_a_first_sign_in_while_another_browser_signs_in_first_signs_in(
        client: Browser, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    map_group(db, "gla-data-cdo", "cdo")
    set_user(oidc_issuer, "dana", email=EMAIL, email_verified=True, name="Dana Example",
             groups=["gla-data-cdo"])
    start = client.get("/login/oidc?next=/projects", follow_redirects=False)
    callback = approve(start.headers["location"], "dana")

    # The other browser's sign-in has created Dana's user, not yet committed.
    def meanwhile(session: Session) -> None:
        identities.sign_in_identity(session=session, identity=Identity(
            issuer=oidc_issuer, subject="dana", email=EMAIL, name="Dana Example",
            groups=("gla-data-cdo",), email_verified=True))

    answer = sent_while_held(db, meanwhile, lambda: client.get(callback, follow_redirects=False))
    assert answer.status_code == 303, answer.text[:400]
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(User).where(
            User.email == EMAIL)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(ExternalIdentity)).scalar_one() == 1
