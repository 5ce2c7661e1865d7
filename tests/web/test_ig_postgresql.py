"""A stage's merge on PostgreSQL: a save waiting on another's never writes over it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.services import ig
from tests.racing import waiting_for_a_lock
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
    outcome: dict[str, Any] = {}

    def alice_types_a_note() -> None:
        try:
            response = alice.post(f"/projects/{PERSONAL}/ig",
                                  data=form | {"note": "Alice: live."}, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    # Bob's note is saved, not yet committed, when Alice's stage form arrives.
    with london.write() as session:
        ig.record_stage(session=session, actor=SYSTEM, slug=PERSONAL, stage="privacy_notice",
                        data={"status": "in_progress", "note": "Bob: with legal."})
        other = threading.Thread(target=alice_types_a_note)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    # Both changed the note from the one Alice's page showed: hers is kept for her to see.
    assert outcome["status"] == 409
    page = parse_html(outcome["page"])
    assert page.by_id("ig-privacy_notice-note").text() == "Alice: live."
    assert "Bob: with legal." in page.error_for("ig-privacy_notice-note")
    stage = alice.get(f"/api/v1/projects/{PERSONAL}/ig").json()["stages"][3]
    assert stage["note"] == "Bob: with legal."


def test_two_first_records_of_a_stage_at_once_are_a_clash_not_a_server_error(
        signed_in: SignedIn, london: Database) -> None:
    alice = signed_in("lead", "E09000002", html=True)
    form = stage_form(alice.get(f"/projects/{PERSONAL}").text, "privacy_notice")
    outcome: dict[str, Any] = {}

    def alice_types_a_note() -> None:
        try:
            response = alice.post(f"/projects/{PERSONAL}/ig",
                                  data=form | {"note": "Alice: live."}, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - a server error is the failure we look for
            outcome["status"], outcome["page"] = 500, repr(exc)
            return
        outcome["status"], outcome["page"] = response.status_code, response.text

    # Bob records the stage first (no row yet), not yet committed, when Alice's form arrives.
    with london.write() as session:
        ig.record_stage(session=session, actor=SYSTEM, slug=PERSONAL, stage="privacy_notice",
                        data={"status": "in_progress", "note": "Bob: with legal."})
        other = threading.Thread(target=alice_types_a_note)
        other.start()
        while other.is_alive() and not waiting_for_a_lock(london):
            other.join(0.01)
    other.join(30)
    assert outcome["status"] == 409
    page = parse_html(outcome["page"])
    assert page.by_id("ig-privacy_notice-note").text() == "Alice: live."
    assert "Bob: with legal." in page.error_for("ig-privacy_notice-note")
