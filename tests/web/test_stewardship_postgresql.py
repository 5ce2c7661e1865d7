"""The owner form's merge on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import progress
from portfolio.settings import Settings
from tests.racing import sent_while_held
from tests.web.auth import Browser, sign_in
from tests.web.pages_html import parse_html
from tests.web.test_working_together import COMMITTED, form_as_loaded
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


@pytest.fixture
def app(settings: Settings, london: Database) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def alice(app: FastAPI, london: Database) -> Iterator[Browser]:
    client = Browser(app, headers={"accept": "text/html"})
    client.__enter__()
    client.email = sign_in(client, london, "lead", "GLA")  # type: ignore[attr-defined]
    yield client
    client.__exit__(None, None, None)



def test_a_contact_saved_while_another_saves_the_contact_is_a_clash_not_an_overwrite(
        alice: Browser, london: Database) -> None:
    action = f"/projects/{COMMITTED}/stewardship"
    with london.write() as session:  # the row exists: both saves update it
        progress.set_stewardship(session=session, actor=SYSTEM, slug=COMMITTED,
                                 data={"public_contact": "first@london.gov.uk"})
    form = form_as_loaded(alice.get(f"/projects/{COMMITTED}").text, action)

    # Bob's contact is saved, not yet committed, when Alice's owner form arrives.
    def meanwhile(session: Session) -> None:
        progress.set_stewardship(session=session, actor=SYSTEM, slug=COMMITTED,
                                 data={"public_contact": "bob@london.gov.uk"})

    answer = sent_while_held(london, meanwhile, lambda: alice.post(
        action, data=form | {"public_contact": "alice@london.gov.uk"}, follow_redirects=False))
    # Both changed the contact from the one Alice's page showed: hers is kept for her to see.
    assert answer.status_code == 409
    page = parse_html(answer.text)
    assert page.by_id("s-public_contact").get("value") == "alice@london.gov.uk"
    assert "bob@london.gov.uk" in page.error_for("s-public_contact")
    now = alice.get(f"/api/v1/projects/{COMMITTED}/progress").json()
    assert now["public_contact"] == "bob@london.gov.uk"
