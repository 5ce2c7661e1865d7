"""Priority overrides: staff only, justified, optional expiry, used by the ranking, audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from portfolio.actors import SYSTEM, Actor
from portfolio.db import Database
from portfolio.enums import Role
from portfolio.errors import Invalid, NotAllowed
from portfolio.models import AuditEvent, Project
from portfolio.services import overrides, ranking

SLUG = "bd-propensity-to-pay"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def row_of(db: Database, slug: str = SLUG) -> dict:
    _run, rows = ranking.ranked_rows(db)
    return next(r for r in rows if r["slug"] == slug)


def test_an_override_without_justification_is_refused_with_every_problem(
    london: Database,
) -> None:
    with london.write() as session, pytest.raises(Invalid) as refused:
        overrides.set_override(session=session, actor=SYSTEM, slug=SLUG,
                               data={"value": "120", "expires_on": "2001-01-01"})
    assert set(refused.value.errors) == {"value", "justification", "expires_on"}


def test_a_lead_may_not_override_and_is_told_who_may(london: Database) -> None:
    lead = Actor(id=None, role=Role.LEAD, organisation_id=1)
    with london.write() as session, pytest.raises(NotAllowed) as refused:
        overrides.set_override(session=session, actor=lead, slug=SLUG,
                               data={"value": 90, "justification": "Mine"})
    assert refused.value.message.endswith("the CDO or an admin may")


def test_the_ranking_uses_an_override_until_its_expiry_and_audits_it(london: Database) -> None:
    with london.write() as session:
        overrides.set_override(session=session, actor=SYSTEM, slug=SLUG, data={
            "value": 99.5, "justification": "Statutory deadline",
            "expires_on": date.today() + timedelta(days=30)})
    row = row_of(london)
    assert row["override"] and row["priority"] == 99.5
    # Thirty-one days on, the sweep clears it and the score counts again.
    with london.write() as session:
        assert overrides.expire_due(session, today=date.today() + timedelta(days=31)) == 1
    row = row_of(london)
    assert not row["override"] and row["priority"] == row["score"]
    with london.read() as session:
        events = session.exec(select(AuditEvent.after).where(AuditEvent.action == "override")
                              ).all()
        project = session.exec(select(Project).where(Project.slug == SLUG)).one()
    assert [e["priority_override"] for e in events] == [99.5, None]
    assert "expired" in events[1]["reason"] and project.override_justification == ""
