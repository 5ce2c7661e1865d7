"""The admins' jobs page: a job that failed for good stays in view however many succeed after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portfolio.db import Database
from portfolio.models import JobOutcome, utcnow
from tests.web.conftest import SignedIn
from tests.web.pages_html import parse_html


@pytest.fixture
def backend() -> str:
    """Run on SQLite: the page reads the outcomes table, whichever database holds it."""
    return "sqlite"


def test_a_job_that_failed_stays_listed_after_many_later_successes(
        signed_in: SignedIn, london: Database) -> None:
    # Found in review: the page listed the newest 50 outcomes, successes included, so a
    # failure scrolled off after 50 rankings.
    now = utcnow()
    with london.write() as session:
        session.add(JobOutcome(task="portfolio.import", lock="import:7", attempt=3,
                               gave_up=True, error="the worker stopped while running it 3 times",
                               at=now - timedelta(hours=2)))
        for n in range(60):
            session.add(JobOutcome(task="portfolio.rank", lock=f"rank:1:{n}", succeeded=True,
                                   summary="ranked", at=now - timedelta(minutes=60 - n)))
    page = parse_html(signed_in("admin", html=True).get("/admin/jobs").text)
    failed = page.by_id("failed-jobs")
    assert "the worker stopped while running it 3 times" in failed.text()
    assert "import:7" in failed.text()
