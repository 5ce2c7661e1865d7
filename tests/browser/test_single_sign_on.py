"""Signing in through a real OpenID provider process in Chromium, and the pages it adds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import accounts, identities
from portfolio.settings import Settings
from tests.browser.axe import DESKTOP, PHONE, assert_accessible
from tests.browser.conftest import PASSWORD, STEP_TIMEOUT_MS, serving
from tests.oidc_provider import oidc_issuer, set_user  # noqa: F401 - the fixture

pytestmark = pytest.mark.browser
PROVIDER_NAME = "your council account"


@pytest.fixture(scope="module")
def sso_server(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory,
               oidc_issuer: str) -> Iterator[str]:  # noqa: F811
    """Serve the app with sign-in through the provider; yield its base URL."""
    from seeds.loader import WRITTEN_FOR, load_london

    target = tmp_path_factory.mktemp("sso") / "portfolio.db"
    shutil.copyfile(sqlite_template, target)
    settings = Settings(database_url=f"sqlite:///{target}", environment="test",
                        secret_key="sso-browser-tests", oidc_issuer=oidc_issuer,
                        oidc_client_id="portfolio-browser", oidc_client_secret="secret",
                        oidc_provider_name=PROVIDER_NAME)
    database = Database(settings)
    with database.write() as session:
        load_london(session, today=WRITTEN_FOR)  # dated as the tests name its days
        accounts.add_user(session=session, actor=SYSTEM, password=PASSWORD, data={
            "email": "admin.sso@example.london", "name": "Local admin", "role": "admin"})
        identities.add_mapping(session=session, actor=SYSTEM, group="gla-chief-data-office",
                               role="cdo", organisation=None)
    database.dispose()
    with serving(settings, "the single sign-on tests") as url:
        yield url


@pytest.fixture
def tab(browser, sso_server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    # axe-core is injected as a script: the page's Content Security Policy would refuse it.
    context = browser.new_context(base_url=sso_server, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def accessible_at_both_sizes(page, state: str) -> None:  # type: ignore[no-untyped-def]
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert_accessible(page, f"{state} at {size['width']} px")
    page.set_viewport_size(DESKTOP)


def through_provider(page, subject: str) -> None:  # type: ignore[no-untyped-def]
    """From the sign-in page, sign in at the provider as a subject."""
    page.goto("/login")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.locator("input[name=sub]").fill(subject)
    page.get_by_role("button", name="Authorize").click()


def test_a_council_user_signs_in_and_out_through_the_provider(
        tab, oidc_issuer: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_user(oidc_issuer, "erin", email="erin@london.gov.example", email_verified=True,
             name="Erin Chief", groups=["all-staff", "gla-chief-data-office"])
    tab.goto("/login")
    accessible_at_both_sizes(tab, "the sign-in page with single sign-on")
    through_provider(tab, "erin")
    tab.wait_for_url(lambda url: "/login" not in url and "127.0.0.1" in url)
    tab.get_by_role("button", name="Sign out").click()
    offer = tab.get_by_role("link", name=f"Sign out of {PROVIDER_NAME} too")
    offer.wait_for()
    accessible_at_both_sizes(tab, "the sign-in page after signing out")
    offer.click()
    tab.get_by_role("button", name="End session").click()
    tab.wait_for_url("**/login")
    # Signed out of the app: a page that needs a user sends the browser to sign in.
    tab.goto("/account")
    tab.wait_for_url(lambda url: "/login?next=" in url)


def test_someone_in_no_mapped_group_waits_until_an_admin_maps_it(
        tab, oidc_issuer: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    set_user(oidc_issuer, "frank", email="frank@borough.example", email_verified=True,
             name="Frank Analyst", groups=["borough-analysts"])
    through_provider(tab, "frank")
    tab.get_by_role("heading", name="Your account is waiting for access").wait_for()
    accessible_at_both_sizes(tab, "the waiting page")

    tab.goto("/login")
    tab.get_by_label("Email").fill("admin.sso@example.london")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in", exact=True).click()
    tab.wait_for_url(lambda url: "/login" not in url)
    tab.goto("/admin/groups")
    assert "frank@borough.example" in tab.content()
    accessible_at_both_sizes(tab, "the groups page")
    tab.get_by_label("Group, as the provider names it").fill("borough-analysts")
    tab.get_by_label("Role").select_option("lead")
    tab.get_by_role("button", name="Map the group").click()
    tab.locator(".error-summary").wait_for()
    assert tab.get_by_label("Group, as the provider names it").input_value() == "borough-analysts"
    accessible_at_both_sizes(tab, "the groups page with an error")
    tab.get_by_label("Role").select_option("researcher")
    tab.get_by_role("button", name="Map the group").click()
    tab.get_by_role("button", name="Remove the mapping of borough-analysts").wait_for()
    tab.goto("/admin/jobs")
    accessible_at_both_sizes(tab, "the background jobs page")
    tab.get_by_role("button", name="Sign out").click()

    through_provider(tab, "frank")
    tab.wait_for_url(lambda url: "/login" not in url and "127.0.0.1" in url
                     and "oauth2" not in url)
    tab.get_by_role("button", name="Sign out").wait_for()
