"""Accounts of people who sign in through the provider: their groups, passwords and waiting."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from portfolio.db import Database
from portfolio.models import LoginAttempt, User
from portfolio.settings import Settings
from tests.oidc_provider import oidc_issuer, set_user  # noqa: F401 - the fixture
from tests.web.auth import Browser, sign_in
from tests.web.test_single_sign_on import (  # noqa: F401 - fixtures
    client,
    journey,
    map_group,
    role_of,
    sso_settings,
)
from web.app import create_app

DN = "CN=Data Team,OU=Groups,DC=gla"


def words(text: str) -> str:
    return " ".join(text.split())


def remove_mapping_of(browser: Browser, group: str):  # type: ignore[no-untyped-def]
    """Remove a group's mapping from the groups page; return the page that follows."""
    page = browser.get("/admin/groups").text
    row = next(r for r in page.split("<tr>") if f"<td>{group}</td>" in r)
    mapping = re.search(r"/admin/groups/(\d+)/remove", row)
    assert mapping is not None
    return browser.post(f"/admin/groups/{mapping.group(1)}/remove")


# Groups: names with commas (AD/LDAP distinguished names), and many groups.

def test_removing_the_mapping_of_a_group_named_with_commas_takes_its_role_at_once(
        client: Browser, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    map_group(db, DN, "cdo")
    set_user(oidc_issuer, "ann", email="ann@council.example", email_verified=True,
             groups=["staff", DN])
    assert journey(client, "ann")[0].status_code == 303
    assert role_of(db, "ann@council.example") == "cdo"
    client.post("/logout")
    sign_in(client, db, "admin")
    removed = remove_mapping_of(client, DN)
    assert "the role it gave 1 member:" in words(removed.text)
    assert role_of(db, "ann@council.example") is None


def test_a_group_named_after_4000_characters_of_other_groups_is_kept(
        client: Browser, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    many = [f"council-team-{i:04d}-" + "x" * 40 for i in range(120)]  # about 7,000 characters
    map_group(db, "gla-late-cdo", "cdo")
    set_user(oidc_issuer, "ben", email="ben@council.example", email_verified=True,
             groups=[*many, "gla-late-cdo"])
    assert journey(client, "ben")[0].status_code == 303
    client.post("/logout")
    sign_in(client, db, "admin")
    removed = remove_mapping_of(client, "gla-late-cdo")
    assert "the role it gave 1 member:" in words(removed.text)
    assert role_of(db, "ben@council.example") is None


def test_the_waiting_list_shows_a_group_named_with_commas_whole(
        client: Browser, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    set_user(oidc_issuer, "cat", email="cat@council.example", groups=[DN, "staff"])
    assert journey(client, "cat")[0].status_code == 403
    sign_in(client, db, "admin")
    page = client.get("/admin/groups").text
    assert f"<li>{DN}</li>" in page and "<li>staff</li>" in page


# Mapping a waiting user's group gives them the role at once.

def test_mapping_a_waiting_users_group_gives_them_the_role_at_once(
        client: Browser, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    set_user(oidc_issuer, "dee", email="dee@council.example", groups=["gla-readers"])
    assert journey(client, "dee")[0].status_code == 403
    sign_in(client, db, "admin")
    added = client.post("/admin/groups", data={"group": "gla-readers", "role": "researcher",
                                               "organisation": ""})
    assert added.status_code == 200
    assert "1 member waiting for a role has it now" in words(added.text)
    assert role_of(db, "dee@council.example") == "researcher"
    assert "dee@council.example" not in added.text.split("Waiting for a role", 1)[1]


# Local passwords switched off: the pages offer only what works.

@pytest.fixture
def no_passwords(sso_settings: Settings, db: Database,  # noqa: F811
                 oidc_issuer: str) -> Iterator[Browser]:  # noqa: F811
    """A browser signed in as an admin through the provider, with local passwords off."""
    off = sso_settings.model_copy(update={"local_passwords": False})
    map_group(db, "portfolio-admins", "admin")
    set_user(oidc_issuer, "root", email="root@council.example", email_verified=True,
             groups=["portfolio-admins"])
    with Browser(create_app(off)) as browser:
        assert journey(browser, "root")[0].status_code == 303
        browser.csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                                 browser.get("/account").text).group(1)
        yield browser


def test_with_passwords_off_an_admin_adds_a_user_who_signs_in_with_the_provider(
        no_passwords: Browser, db: Database) -> None:
    page = no_passwords.get("/admin/users").text
    assert 'name="password"' not in page and "first password" not in page.lower()
    added = no_passwords.post("/admin/users", data={
        "email": "eve@council.example", "name": "Eve", "role": "researcher",
        "organisation": ""})
    assert added.status_code == 200, added.text
    with db.read() as session:
        user = session.execute(select(User).where(User.email == "eve@council.example")
                               ).scalars().one()
    assert user.password_hash is None and not user.must_change_password


def test_with_passwords_off_no_password_is_reset(no_passwords: Browser, db: Database) -> None:
    no_passwords.post("/admin/users", data={"email": "fay@council.example", "name": "Fay",
                                            "role": "researcher", "organisation": ""})
    page = no_passwords.get("/admin/users").text
    assert "/password" not in page and "Reset" not in page
    answer = no_passwords.post("/admin/users/fay@council.example/password")
    assert "One-time password" not in answer.text
    assert "passwords are switched off" in words(answer.text).lower()
    with db.read() as session:
        assert session.execute(select(User.password_hash).where(
            User.email == "fay@council.example")).scalar_one() is None


def test_with_passwords_off_the_account_page_offers_no_password_change(
        no_passwords: Browser) -> None:
    assert "Change your password" not in no_passwords.get("/account").text
    assert no_passwords.get("/account/password").status_code == 404


# An account with no password (it signs in through the provider), passwords on.

def test_an_account_with_no_password_is_not_offered_a_password_change(
        client: Browser, db: Database, oidc_issuer: str) -> None:  # noqa: F811
    map_group(db, "gla-staff", "researcher")
    set_user(oidc_issuer, "gus", email="gus@council.example", email_verified=True,
             groups=["gla-staff"])
    assert journey(client, "gus")[0].status_code == 303
    account = client.get("/account").text
    assert "Change your password" not in account
    client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', account).group(1)
    answer = client.post("/account/password", data={
        "current_password": "", "new_password": "a new long password",
        "repeat_password": "a new long password"})
    assert answer.status_code == 404
    assert "not your current password" not in answer.text
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(LoginAttempt)).scalar_one() == 0
