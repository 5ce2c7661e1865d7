"""Finding 4: signing out ends the session; sessions time out; tokens expire and are listed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from portfolio.db import Database
from portfolio.models import ApiToken, UserSession
from portfolio.services import accounts
from tests.web.auth import Browser, page_csrf, sign_in
from web import security
from web.pages_common import when


def copy_of(app, browser: Browser) -> Browser:  # type: ignore[no-untyped-def]
    """Return a second client holding a copy of a browser's cookies (a stolen cookie)."""
    thief = Browser(app)
    thief.cookies = browser.cookies
    thief.csrf = browser.csrf
    return thief


REAL_UTCNOW = accounts.utcnow
REAL_TIME = time.time


def later(monkeypatch: pytest.MonkeyPatch, **delta: float) -> None:
    """Move the clocks the sessions read forward from now."""
    now, clock = REAL_UTCNOW(), REAL_TIME()
    monkeypatch.setattr(accounts, "utcnow", lambda: now + timedelta(**delta))
    monkeypatch.setattr(security.time, "time", lambda: clock + timedelta(**delta).total_seconds())


def test_signing_out_ends_the_session_for_a_copied_cookie_too(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        stolen = dict(browser.cookies)
        assert browser.post("/logout", follow_redirects=False).status_code == 303
    with Browser(app, cookies=stolen) as thief:
        assert thief.get("/account", follow_redirects=False).status_code == 303
        assert thief.get("/api/v1/projects").status_code == 401
        refused = thief.post("/account/tokens", data={"name": "keep"}, follow_redirects=False)
        assert refused.status_code in {303, 401, 403}
    with db.read() as session:
        assert session.execute(select(ApiToken)).first() is None


def test_signing_out_deactivating_a_user_ends_their_sessions(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from portfolio.actors import SYSTEM

    with Browser(app) as browser:
        email = sign_in(browser, db, "lead", "E09000002")
        with db.write() as session:
            accounts.update_user(session=session, actor=SYSTEM, email=email, is_active=False)
        assert browser.get("/account", follow_redirects=False).status_code == 303
    with db.read() as session:
        assert all(row.ended_at is not None
                   for row in session.execute(select(UserSession)).scalars())


def test_sessions_end_after_the_idle_time_out(app, db: Database,  # type: ignore[no-untyped-def]
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        assert browser.get("/account", follow_redirects=False).status_code == 200
        later(monkeypatch, seconds=app.state.settings.session_idle_seconds + 1)
        assert browser.get("/account", follow_redirects=False).status_code == 303


def test_the_cookie_notes_when_it_was_last_served_at_most_once_a_minute(
        app, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        browser.get("/account")
        # Within the minute the cookie stands: no signature, no Set-Cookie on each answer.
        assert "set-cookie" not in browser.get("/account").headers
        later(monkeypatch, seconds=61)
        assert "set-cookie" in browser.get("/account").headers
        assert "set-cookie" not in browser.get("/account").headers
        # Used every half hour less a minute, the session lives on past the idle time-out.
        idle = app.state.settings.session_idle_seconds
        later(monkeypatch, seconds=61 + idle - 60)
        assert browser.get("/account", follow_redirects=False).status_code == 200


def test_sessions_end_after_the_absolute_time_out_even_when_used(
        app, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    limit = app.state.settings.session_max_age_seconds
    idle = app.state.settings.session_idle_seconds
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        step = idle / 2
        elapsed = 0.0
        while elapsed + step < limit:
            elapsed += step
            later(monkeypatch, seconds=elapsed)
            assert browser.get("/api/v1/organisations").status_code == 200, elapsed
            db.background.wait()
        later(monkeypatch, seconds=limit + 1)
        assert browser.get("/api/v1/organisations").status_code == 401


def test_sign_out_everywhere_ends_every_session_of_the_user(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as first:
        email = sign_in(first, db, "cdo")
        with Browser(app) as second:
            second.csrf = None
            second.post("/login", data={"email": email, "password": "correct horse battery "
                                        "staple", "csrf_token": page_csrf(second)})
            second.csrf = page_csrf(second)
            assert second.get("/account", follow_redirects=False).status_code == 200
            page = first.get("/account")
            assert page.text.count("this browser") == 1
            # Address and browser: the test client calls itself "testclient" in both.
            assert page.text.count("<td>testclient</td><td>testclient</td>") == 2
            ended = first.post("/account/sessions/end", follow_redirects=False)
            assert ended.status_code == 303
            assert second.get("/account", follow_redirects=False).status_code == 303
        assert first.get("/account", follow_redirects=False).status_code == 303


def test_api_tokens_expire_after_the_days_chosen_at_creation(
        app, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        page = browser.post("/account/tokens", data={"name": "script", "days": "7"})
        assert page.status_code == 200
        assert '<option value="90" selected>' in page.text
        secret = page.text.split("<code>ldp_", 1)[1].split("</code>", 1)[0]
    bearer = {"Authorization": f"Bearer ldp_{secret}"}
    with Browser(app) as script:
        assert script.get("/api/v1/organisations", headers=bearer).status_code == 200
        db.background.wait()
        later(monkeypatch, days=7, seconds=1)
        refused = script.get("/api/v1/organisations", headers=bearer)
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]


def test_api_tokens_default_to_90_days_and_list_their_last_use(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        made = browser.post("/account/tokens", data={"name": "script"})
        secret = made.text.split("<code>ldp_", 1)[1].split("</code>", 1)[0]
        assert "never" in made.text
        with Browser(app) as script:
            script.get("/api/v1/organisations", headers={"Authorization": f"Bearer ldp_{secret}"})
        db.background.wait()
        listed = browser.get("/account").text
    with db.read() as session:
        token = session.execute(select(ApiToken)).scalars().one()
    assert token.last_used_at is not None
    assert timedelta(days=89) < token.expires_at - token.created_at <= timedelta(days=90)
    assert when(token.expires_at) in listed  # written for people, in London time
    assert "never" not in listed


def test_api_tokens_cannot_outlive_the_longest_expiry(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        refused = browser.post("/account/tokens", data={"name": "forever", "days": "100000"},
                               follow_redirects=False)
        assert refused.status_code == 303  # the account page says why, once
        assert "1 to 365 days" in browser.get("/account").text


def test_signing_out_setting_a_new_password_ends_the_old_sessions(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from portfolio.actors import SYSTEM

    with Browser(app) as browser:
        email = sign_in(browser, db, "researcher")
        with db.write() as session:
            accounts.set_password(session=session, actor=SYSTEM, email=email,
                                  password="a brand new passphrase")
        assert browser.get("/account", follow_redirects=False).status_code == 303


def test_deactivating_a_user_revokes_their_tokens_so_reactivating_does_not_wake_them(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    from portfolio.actors import SYSTEM

    with Browser(app) as browser:
        email = sign_in(browser, db, "lead", "E09000002")
        page = browser.post("/account/tokens", data={"name": "script", "days": "90"})
        secret = page.text.split("<code>ldp_", 1)[1].split("</code>", 1)[0]
    bearer = {"Authorization": f"Bearer ldp_{secret}"}
    with Browser(app) as script:
        assert script.get("/api/v1/organisations", headers=bearer).status_code == 200
        with db.write() as session:
            accounts.update_user(session=session, actor=SYSTEM, email=email, is_active=False)
        assert script.get("/api/v1/organisations", headers=bearer).status_code == 401
        with db.write() as session:
            accounts.update_user(session=session, actor=SYSTEM, email=email, is_active=True)
        assert script.get("/api/v1/organisations", headers=bearer).status_code == 401
    with db.read() as session:
        assert all(row.revoked_at is not None
                   for row in session.execute(select(ApiToken)).scalars())


def test_signing_in_over_a_session_ends_the_session_it_replaces(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    # A shared computer: B signs in where A was signed in; A's copied cookie is dead.
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        first = dict(browser.cookies)
        sign_in(browser, db, "cdo")
        assert browser.get("/account", follow_redirects=False).status_code == 200
    with Browser(app, cookies=first) as copied:
        assert copied.get("/account", follow_redirects=False).status_code == 303
    with db.read() as session:
        live = [row for row in session.execute(select(UserSession)).scalars()
                if row.ended_at is None]
    assert len(live) == 1


@pytest.mark.parametrize("given", ["é", "\u20ac" * 40])
def test_a_csrf_token_with_letters_outside_ascii_is_refused_not_a_500(
        app, db: Database, given: str) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")  # the session has a token to compare with
        browser.csrf = None  # the form's own field is the token sent
        form = browser.post("/login", data={"email": "x@example.org", "password": "p",
                                            "csrf_token": given}, follow_redirects=False)
        header = browser.post("/api/v1/notifications/read", json={},
                              headers={"X-CSRF-Token": given.encode()})
    assert form.status_code == 403 and header.status_code == 403


def test_an_htmx_form_sent_after_the_session_ended_elsewhere_says_signed_out(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    # Beside a reader who never signed in (told "not signed in"): one signed out meanwhile.
    with Browser(app) as first:
        sign_in(first, db, "cdo")
        thief = copy_of(app, first)
        assert first.post("/account/sessions/end", follow_redirects=False).status_code == 303
        with thief:
            answer = thief.post("/notifications/read", headers={"HX-Request": "true"},
                                follow_redirects=False)
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("you are signed out")
