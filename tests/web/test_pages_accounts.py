"""The account and users pages: tokens by Post/Redirect/Get, passwords changed, reset and chosen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import ApiToken, User
from portfolio.services import organisations as organisation_service
from portfolio.settings import Settings
from tests.web.auth import PASSWORD, Browser, make_user, page_csrf, sign_in
from tests.web.pages_html import parse_html
from web.app import create_app

NEW_PASSWORD = "a fresh passphrase of mine"


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    """Build the app over an empty portfolio."""
    return create_app(settings)


def token_count(db: Database) -> int:
    with db.read() as session:
        return session.execute(select(func.count()).select_from(ApiToken)).scalar_one()


def sign_in_as(client: Browser, email: str, password: str):  # type: ignore[no-untyped-def]
    """Sign a client in with an email and password; return the answer (not followed)."""
    client.csrf = None
    answer = client.post("/login", data={"email": email, "password": password,
                                         "csrf_token": page_csrf(client), "next": "/"},
                         follow_redirects=False)
    client.csrf = page_csrf(client)
    return answer


def test_creating_a_token_redirects_and_shows_the_secret_once(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        made = browser.post("/account/tokens", data={"name": "nightly", "days": "30"},
                            follow_redirects=False)
        assert made.status_code == 303
        assert made.headers["location"] == "/account#token-created"
        shown = browser.get("/account").text
        again = browser.get("/account").text  # a reload
    assert re.search(r"<code>ldp_[\w-]{20,}</code>", shown)
    assert not re.search(r"<code>ldp_[\w-]{20,}</code>", again)
    assert token_count(db) == 1


def test_token_names_are_unique_per_user_and_the_refusal_keeps_the_name(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        browser.post("/account/tokens", data={"name": "nightly"})
        refused = browser.post("/account/tokens", data={"name": "Nightly", "days": "7"},
                               follow_redirects=False)
        assert refused.headers["location"] == "/account"
        page = parse_html(browser.get("/account").text)
    assert page.error_for("token-name").startswith("You already have a token called 'Nightly'")
    assert page.by_id("token-name").get("value") == "Nightly"
    assert page.find(class_="error-summary").find("a", href="#token-name") is not None
    assert token_count(db) == 1
    with Browser(app) as other:
        sign_in(other, db, "researcher")
        other.post("/account/tokens", data={"name": "nightly"})
    assert token_count(db) == 2  # another user's token may have the same name


def test_token_dates_are_written_for_people(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        browser.post("/account/tokens", data={"name": "nightly"})
        text = browser.get("/account").text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", text)


def test_revoking_asks_first_and_is_not_the_primary_action(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        browser.post("/account/tokens", data={"name": "nightly"})
        page = parse_html(browser.get("/account").text)
        revoke = [a for a in page.find_all("a") if a.text().startswith("Revoke")]
        assert len(revoke) == 1 and "secondary" in (revoke[0].get("class") or "")
        assert not any(b.text().startswith("Revoke") for b in page.find_all("button"))
        asked = browser.get(revoke[0].get("href"))
        assert "Revoke the token “nightly”?" in asked.text
        done = browser.post(revoke[0].get("href"), follow_redirects=False)
        assert done.status_code == 303
        assert "The token “nightly” is revoked" in browser.get("/account").text
    with db.read() as session:
        assert session.execute(select(ApiToken.revoked_at)).scalar_one() is not None


@pytest.mark.parametrize("path", ["/account/tokens", "/account/sessions/end", "/logout"])
def test_form_actions_opened_by_get_go_to_their_page(app, db: Database, path: str) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        sign_in(browser, db, "researcher")
        answer = browser.get(path, follow_redirects=False)
    assert answer.status_code == 303


def test_a_user_changes_their_password_and_keeps_this_session(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser, Browser(app) as elsewhere:
        email = sign_in(browser, db, "researcher")
        sign_in_as(elsewhere, email, PASSWORD)
        wrong = browser.post("/account/password", data={
            "current_password": "not it", "new_password": "short", "repeat_password": "other"})
        assert wrong.status_code == 422
        page = parse_html(wrong.text)
        assert page.error_for("pw-current_password").startswith("This is not your current")
        assert "at least 12 characters" in page.error_for("pw-new_password")
        assert page.error_for("pw-repeat_password").startswith("The two new passwords")
        assert len(page.find(class_="error-summary").find_all("a")) == 3
        done = browser.post("/account/password", data={
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD, "next": "/account"}, follow_redirects=False)
        assert done.status_code == 303
        assert "Your password is changed" in browser.get("/account").text
        assert elsewhere.get("/account", follow_redirects=False).status_code == 303
    with Browser(app) as later:
        assert sign_in_as(later, email, NEW_PASSWORD).status_code == 303


def test_an_admin_resets_a_password_shown_once_and_the_user_must_choose_their_own(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    email = make_user(db, "researcher")
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        reset = admin.post(f"/admin/users/{email}/password", follow_redirects=False)
        assert reset.headers["location"] == "/admin/users#one-time"
        page = parse_html(admin.get("/admin/users").text)
        one_time = page.by_id("one-time").find("code").text()
        assert one_time not in admin.get("/admin/users").text
    with Browser(app) as user:
        assert sign_in_as(user, email, PASSWORD).status_code == 401
        signed_in = sign_in_as(user, email, one_time)
        assert signed_in.headers["location"].startswith("/account/password")
        assert user.get("/account", follow_redirects=False).headers["location"] == (
            "/account/password")
        assert "Choose your own password" in user.get("/account/password").text
        user.post("/account/password", data={"current_password": one_time,
                                              "new_password": NEW_PASSWORD,
                                              "repeat_password": NEW_PASSWORD})
        assert user.get("/account", follow_redirects=False).status_code == 200


def test_a_user_added_on_the_users_page_chooses_a_password_at_first_sign_in(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        added = admin.post("/admin/users", data={
            "email": "new.person@example.london", "name": "New Person", "role": "researcher",
            "password": "given by the admin"}, follow_redirects=False)
        assert added.status_code == 303
        assert "New Person (new.person@example.london) is added" in admin.get("/admin/users").text
    with Browser(app) as user:
        signed_in = sign_in_as(user, "new.person@example.london", "given by the admin")
        assert signed_in.headers["location"].startswith("/account/password")
        assert user.get("/", follow_redirects=False).headers["location"] == "/account/password"


def test_the_users_page_says_every_problem_in_plain_english_with_the_input_kept(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        refused = admin.post("/admin/users", data={"email": "not-an-email", "name": "Ann",
                                                   "role": "lead", "password": "short"})
        assert refused.status_code == 422
        page = parse_html(refused.text)
        assert page.error_for("new-email") == "Enter an email address, such as name@example.london."
        assert page.by_id("new-name").get("value") == "Ann"
        summary = page.find(class_="error-summary")
        assert summary is not None and summary.find("a", href="#new-email") is not None
        # Found in review: an email of spaces was answered in the library's own words.
        blank = admin.post("/admin/users", data={"email": "   ", "name": "Ann", "role": "lead",
                                                 "password": "correct horse battery"})
        assert parse_html(blank.text).error_for("new-email") == (
            "Enter an email address, such as name@example.london.")
        email = make_user(db, "researcher")
        admin.post(f"/admin/users/{email}", data={"role": "lead", "organisation": ""},
                   follow_redirects=False)
        shown = admin.get("/admin/users").text
    assert f"The changes to {email} are not saved" in shown
    assert "A lead must belong to an organisation" in shown


def test_the_users_page_fields_carry_their_limits_and_one_past_them_keeps_the_input(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    # Review: the fields had no maxlength, and a name past 200 characters gave a bare 422 page
    # without the email, role and organisation typed.
    with Browser(app, headers={"accept": "text/html"}) as admin:
        sign_in(admin, db, "admin")
        page = parse_html(admin.get("/admin/users").text)
        assert [page.by_id(f"new-{n}").get("maxlength") for n in ("email", "name", "password")
                ] == ["254", "200", "1024"]
        refused = admin.post("/admin/users", headers={"referer": "http://testserver/admin/users"},
                             data={"email": "ann@example.london", "name": "A" * 201,
                                   "role": "lead", "password": "a long first password"})
        assert refused.status_code == 422
        kept = [t.text() for t in parse_html(refused.text).find_all("textarea")]
        assert "ann@example.london" in kept and "A" * 201 in kept
        assert "a long first password" not in refused.text


def test_the_sign_in_error_is_a_sentence(app) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as browser:
        answer = sign_in_as(browser, "nobody@example.london", "wrong password here")
    assert "The email or password is not right." in answer.text


@pytest.mark.parametrize("path", ["/admin/users/someone@example.london",
                                  "/admin/users/someone@example.london/password"])
def test_user_actions_opened_by_get_go_to_the_users_page(app, db: Database, path: str) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        answer = admin.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/users"


def add_organisation(db: Database, code: str, name: str) -> None:
    """Add an organisation a user may belong to."""
    with db.write() as session:
        organisation_service.create_organisation(session=session, actor=SYSTEM, data={
            "code": code, "name": name, "kind": "borough"})


def user_row_form(page, email: str):  # type: ignore[no-untyped-def]
    """Return the form that changes one user's role, organisation and access."""
    action = "/admin/users/" + email.replace("@", "%40")
    return next(f for f in page.find_all("form") if f.get("action") == action)


def chosen(form, name: str) -> str | None:  # type: ignore[no-untyped-def]
    """Return the value of the option selected in one of a form's selects."""
    option = form.find("select", name=name).find("option", selected="")
    return None if option is None else option.get("value")


def test_a_refused_user_change_keeps_what_the_admin_chose_with_the_error_beside_the_field(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    email = make_user(db, "researcher")
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        page = parse_html(admin.post(f"/admin/users/{email}",
                                     data={"role": "lead", "organisation": ""}).text)
        again = parse_html(admin.get("/admin/users").text)
    form = user_row_form(page, email)
    assert chosen(form, "role") == "lead"
    assert form.find("input", name="active").get("checked") is None  # unticked by the admin
    organisation = form.find("select", name="organisation")
    assert organisation.get("aria-invalid") == "true"
    assert page.error_for(organisation.get("id")) == (
        "A lead must belong to an organisation: choose one.")
    summary = page.find(class_="error-summary")
    assert summary.find("a", href=f"#{organisation.get('id')}") is not None
    # Shown once: a reload shows the user as stored.
    assert chosen(user_row_form(again, email), "role") == "researcher"
    assert user_row_form(again, email).find("input", name="active").get("checked") == ""



def test_a_researcher_made_a_lead_of_an_organisation_on_the_users_page_is_saved(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    add_organisation(db, "CAM", "Camden")
    email = make_user(db, "researcher")
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        saved = admin.post(f"/admin/users/{email}", data={"role": "lead", "organisation": "CAM",
                                                          "active": "on"},
                           follow_redirects=False)
        assert saved.status_code == 303
        form = user_row_form(parse_html(admin.get("/admin/users").text), email)
    assert (chosen(form, "role"), chosen(form, "organisation")) == ("lead", "CAM")


def active_admins(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.execute(select(User.email).where(
            User.role == "admin", User.is_active.is_(True))).scalars())  # type: ignore[attr-defined]


def test_the_only_active_admin_cannot_take_away_their_own_admin_role(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    add_organisation(db, "CAM", "Camden")
    with Browser(app) as admin:
        me = sign_in(admin, db, "admin")
        page = parse_html(admin.post(f"/admin/users/{me}", data={
            "role": "lead", "organisation": "CAM", "active": "on"}).text)
        assert admin.get("/admin/users").status_code == 200
    assert active_admins(db) == [me]
    form = user_row_form(page, me)
    assert (chosen(form, "role"), chosen(form, "organisation")) == ("lead", "CAM")
    role = form.find("select", name="role")
    assert page.error_for(role.get("id")) == (
        "You are the only active admin: make someone else an admin first.")
    assert page.find(class_="error-summary").find("a", href=f"#{role.get('id')}") is not None


def test_the_only_active_admin_cannot_be_switched_off(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as admin:
        me = sign_in(admin, db, "admin")
        page = parse_html(admin.post(f"/admin/users/{me}", data={"role": "admin"}).text)
    assert active_admins(db) == [me]
    active = user_row_form(page, me).find("input", name="active")
    assert active.get("checked") is None
    assert page.error_for(active.get("id")) == (
        "You are the only active admin: make someone else an admin first.")


def test_an_admin_may_step_down_once_another_admin_is_active(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    other = make_user(db, "admin")
    with Browser(app) as admin:
        me = sign_in(admin, db, "admin")
        stepped_down = admin.post(f"/admin/users/{me}", data={"role": "researcher",
                                                              "active": "on"},
                                  follow_redirects=False)
    assert stepped_down.status_code == 303
    assert active_admins(db) == [other]


def row_as_sent(form) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Return a user's row form as a browser sends it."""
    sent = {i.get("name"): i.get("value") or "" for i in form.find_all("input")
            if i.get("type") == "hidden"}
    sent |= {name: chosen(form, name) or "" for name in ("role", "organisation")}
    if form.find("input", name="active").get("checked") is not None:
        sent["active"] = "on"
    return sent


def test_a_user_changed_meanwhile_by_another_admin_keeps_their_change_and_a_clash_is_shown(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    add_organisation(db, "CAM", "Camden")
    add_organisation(db, "HAC", "Hackney")
    email = make_user(db, "lead", "CAM")
    with Browser(app) as alice, Browser(app) as bob:
        sign_in(alice, db, "admin")
        sign_in(bob, db, "admin")
        opened = row_as_sent(user_row_form(parse_html(alice.get("/admin/users").text), email))
        bobs = row_as_sent(user_row_form(parse_html(bob.get("/admin/users").text), email))
        assert bob.post(f"/admin/users/{email}", data=bobs | {"role": "cdo"},
                        follow_redirects=False).status_code == 303
        # Alice moves the user to Hackney from the page she opened before: Bob's role stays.
        assert alice.post(f"/admin/users/{email}", data=opened | {"organisation": "HAC"},
                          follow_redirects=False).status_code == 303
        form = user_row_form(parse_html(alice.get("/admin/users").text), email)
        assert (chosen(form, "role"), chosen(form, "organisation")) == ("cdo", "HAC")
        # Both changed the role differently: nothing is saved; hers is kept, his is shown.
        page = parse_html(alice.post(f"/admin/users/{email}",
                                     data=opened | {"role": "researcher"}).text)
        form = user_row_form(page, email)
        assert chosen(form, "role") == "researcher"
        assert "cdo" in page.error_for(form.find("select", name="role").get("id"))
        again = parse_html(alice.get("/admin/users").text)
        assert chosen(user_row_form(again, email), "role") == "cdo"
        # Saving the row as it came back is a choice made knowing his change.
        assert alice.post(f"/admin/users/{email}", data=row_as_sent(form),
                          follow_redirects=False).status_code == 303
        form = user_row_form(parse_html(alice.get("/admin/users").text), email)
        assert (chosen(form, "role"), chosen(form, "organisation")) == ("researcher", "HAC")


# A name is shown where an address is not (public read): an address given as a name is refused.
def test_a_name_that_is_an_email_address_is_refused_by_its_field(
        app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with Browser(app) as admin:
        sign_in(admin, db, "admin")
        refused = admin.post("/admin/users", data={
            "email": "ann@example.london", "name": "ann@example.london", "role": "researcher",
            "password": "correct horse battery"})
        assert refused.status_code == 422
        assert "not an email address" in parse_html(refused.text).error_for("new-name")
