"""An API token acts on the portfolio, never on credentials: no new tokens, no sign-outs.

Found in review: a token sent to the account page's forms (which skip the CSRF check for token
callers) made a fresh year-long token, so a leaked token outlived its own revocation and expiry;
it could also revoke its owner's other tokens, end their sessions and guess their password
without the sign-in limits.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portfolio.db import Database
from portfolio.models import ApiToken, User, UserSession
from portfolio.services import accounts
from tests.web.auth import PASSWORD, Browser, sign_in, token_for
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """The web layer's check: SQLite is enough."""
    return "sqlite"


def tokens(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(ApiToken)
                               .where(ApiToken.revoked_at.is_(None))).scalar() or 0


def test_a_token_cannot_make_another_token(settings, london: Database) -> None:  # type: ignore[no-untyped-def]
    token = token_for(london, "lead", "E09000002")
    before = tokens(london)
    with Browser(create_app(settings)) as client:
        answer = client.post("/account/tokens", data={"name": "minted", "days": "365"},
                             headers={"Authorization": f"Bearer {token}"},
                             follow_redirects=False)
        assert answer.status_code == 403, answer.text
        assert "ldp_" not in answer.headers.get("set-cookie", "")
    assert tokens(london) == before


def test_a_token_cannot_revoke_tokens_end_sessions_or_change_the_password(
    settings, london: Database,  # type: ignore[no-untyped-def]
) -> None:
    app = create_app(settings)
    with Browser(app) as browser:
        email = sign_in(browser, london, "researcher")
        browser.post("/account/tokens", data={"name": "first"})
        browser.post("/account/tokens", data={"name": "second"})
        with london.read() as session:
            first_id = session.execute(select(ApiToken.id).where(ApiToken.name == "first")
                                       ).scalar()
        # A third token, whose secret the caller holds.
        with london.write() as session:
            user = session.execute(select(User).where(User.email == email)).scalars().one()
            secret = accounts.create_token(session=session, actor=accounts.actor_for(user),
                                           name="third")["token"]
        bearer = {"Authorization": f"Bearer {secret}"}
        with Browser(app) as api:
            revoke = api.post(f"/account/tokens/{first_id}/revoke", headers=bearer,
                              follow_redirects=False)
            end = api.post("/account/sessions/end", headers=bearer, follow_redirects=False)
            password = api.post("/account/password", headers=bearer, follow_redirects=False,
                                data={"current_password": PASSWORD,
                                      "new_password": "another long passphrase",
                                      "repeat_password": "another long passphrase"})
        assert (revoke.status_code, end.status_code, password.status_code) == (403, 403, 403)
        assert tokens(london) == 3
        with london.read() as session:
            live = session.execute(select(func.count()).select_from(UserSession)
                                   .where(UserSession.ended_at.is_(None))).scalar()
        assert live and browser.get("/account", follow_redirects=False).status_code == 200


def test_a_token_used_records_its_own_last_use_and_no_other_tokens(  # type: ignore[no-untyped-def]
    settings, london: Database,
) -> None:
    # Found in review: the last use was written to the token whose id was the user's id, so
    # an admin's unused token showed another user's use and the one used stayed "never".
    secrets = [token_for(london, role) for role in ("admin", "cdo", "researcher")]
    with london.read() as session:
        ids = dict(session.execute(select(ApiToken.id, ApiToken.user_id)).all())
    assert any(token != user for token, user in ids.items()), "ids must differ to tell"
    used = secrets[-1]
    with Browser(create_app(settings)) as client:
        assert client.get("/api/v1/organisations",
                          headers={"Authorization": f"Bearer {used}"}).status_code == 200
        client.app.state.database.background.wait()  # the last use is written off the request
    with london.read() as session:
        seen = dict(session.execute(select(ApiToken.name, ApiToken.last_used_at)
                                    .join(User, User.id == ApiToken.user_id)
                                    .where(User.role == "researcher")).all())
        others = session.execute(select(func.count()).select_from(ApiToken).join(
            User, User.id == ApiToken.user_id).where(User.role != "researcher",
                                                     ApiToken.last_used_at.is_not(None))
        ).scalar()
    assert seen["test"] is not None
    assert others == 0
