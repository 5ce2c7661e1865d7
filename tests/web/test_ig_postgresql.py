"""A stage's merge on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import ig
from tests.racing import sent_while_held
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html
from tests.web.test_ig import PERSONAL, stage_form


@pytest.fixture
def backend() -> str:
    """Row locks of PostgreSQL (SQLite's one writer serialises these saves anyway)."""
    return "postgresql"


def test_a_note_recorded_while_another_records_the_note_is_a_clash_not_an_overwrite(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("lead", "E09000002", html=True)
    with london.write() as session:  # the stage's row exists: both saves update it
        ig.record_stage(session=session, actor=SYSTEM, slug=PERSONAL, stage="privacy_notice",
                        data={"status": "in_progress", "note": "Drafted."})
    form = stage_form(alice.get(f"/projects/{PERSONAL}").text, "privacy_notice")

    # Bob's note is saved, not yet committed, when Alice's stage form arrives.
    def meanwhile(session: Session) -> None:
        ig.record_stage(session=session, actor=SYSTEM, slug=PERSONAL, stage="privacy_notice",
                        data={"status": "in_progress", "note": "Bob: with legal."})

    answer = sent_while_held(london, meanwhile, lambda: alice.post(
        f"/projects/{PERSONAL}/ig", data=form | {"note": "Alice: live."},
        follow_redirects=False))
    # Both changed the note from the one Alice's page showed: hers is kept for her to see.
    assert answer.status_code == 409
    page = parse_html(answer.text)
    assert page.by_id("ig-privacy_notice-note").text() == "Alice: live."
    assert "Bob: with legal." in page.error_for("ig-privacy_notice-note")
    stage = alice.get(f"/api/v1/projects/{PERSONAL}/ig").json()["stages"][3]
    assert stage["note"] == "Bob: with legal."


def test_two_first_records_of_a_stage_at_once_are_a_clash_not_a_server_error(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("lead", "E09000002", html=True)
    form = stage_form(alice.get(f"/projects/{PERSONAL}").text, "privacy_notice")

    # Bob records the stage first (no row yet), not yet committed, when Alice's form arrives.
    def meanwhile(session: Session) -> None:
        ig.record_stage(session=session, actor=SYSTEM, slug=PERSONAL, stage="privacy_notice",
                        data={"status": "in_progress", "note": "Bob: with legal."})

    answer = sent_while_held(london, meanwhile, lambda: alice.post(
        f"/projects/{PERSONAL}/ig", data=form | {"note": "Alice: live."},
        follow_redirects=False))
    assert answer.status_code == 409
    page = parse_html(answer.text)
    assert page.by_id("ig-privacy_notice-note").text() == "Alice: live."
    assert "Bob: with legal." in page.error_for("ig-privacy_notice-note")
