"""A readiness level on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import catalogue
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html

CODE = "lsoa-2021-boundaries"


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


def test_a_level_recorded_while_another_is_recorded_is_a_clash_not_an_overwrite(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("cdo", html=True)
    page = parse_html(alice.get(f"/datasets/{CODE}").text)
    version = page.find("form", class_="readiness-form").find(  # type: ignore[union-attr]
        "input", name="version").get("value")  # type: ignore[union-attr]
    form = {"csrf_token": alice.csrf, "version": version, "drl": "C2",
            "evidence": "I could download it."}

    # Bob's level is recorded, not yet committed, when Alice's arrives.
    def meanwhile(session: Session) -> None:
        catalogue.assess_readiness(session=session, actor=SYSTEM, code=CODE, data={
            "drl": "C1", "evidence": "A duplicate-key fault.", "version": int(version or 0)})

    answer = sent_while_held(london, meanwhile, lambda: alice.post(
        f"/datasets/{CODE}/readiness", data=form, follow_redirects=False))
    assert answer.status_code == 409, answer.text[:300]
    page = parse_html(answer.text)
    assert page.by_id("rd-evidence").text() == "I could download it."
    assert "now C1" in page.error_for("rd-drl")
    assert alice.get(f"/api/v1/datasets/{CODE}",
                     headers={"accept": "application/json"}).json()["drl"] == "C1"
