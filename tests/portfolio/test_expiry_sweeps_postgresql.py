"""The daily expiry sweeps never write over a renewal or a new override committed beside them.

Found in review: each sweep read what was due without a lock, then wrote values worked out
from that read; on PostgreSQL an agreement renewed (or an override set again) while the sweep
ran was recorded expired (or cleared) all the same, two changes sharing one version.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.models import Project, SharingAgreement
from portfolio.services import agreements, overrides
from tests.racing import sent_while_held

SLUG = "bd-one-view-phase-2"


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises them)."""
    return "postgresql"


def sweep(db: Database, sweeper: object, day: date) -> int:
    with db.write() as session:
        return sweeper.expire_due(session, today=day)  # type: ignore[attr-defined]


def test_an_agreement_renewed_while_the_sweep_runs_stays_signed(london: Database) -> None:
    with london.write() as session:
        agreement = session.execute(select(SharingAgreement).where(
            SharingAgreement.status == "signed")).scalars().first()
        assert agreement is not None and agreement.expires_on is not None
        code, due_day = agreement.code, agreement.expires_on + timedelta(days=1)
        version = agreement.version
    renewed_to = due_day + timedelta(days=730)

    def renewed(session: Session) -> None:
        row = session.execute(select(SharingAgreement).where(
            SharingAgreement.code == code)).scalars().one()
        row.expires_on, row.version = renewed_to, row.version + 1
        session.add(row)
        session.flush()

    sent_while_held(london, renewed, lambda: sweep(london, agreements, due_day))
    with london.read() as session:
        row = session.execute(select(SharingAgreement).where(
            SharingAgreement.code == code)).scalars().one()
    assert (row.status, row.expires_on, row.version) == ("signed", renewed_to, version + 1)


def test_an_override_set_again_while_the_sweep_runs_stays(london: Database) -> None:
    today = date.today()
    with london.write() as session:
        overrides.set_override(session=session, actor=SYSTEM, slug=SLUG,
                               today=today - timedelta(days=1), data={
            "value": 60, "justification": "Until the board", "expires_on": today})
    later = today + timedelta(days=1)

    def set_again(session: Session) -> None:
        overrides.set_override(session=session, actor=SYSTEM, slug=SLUG, today=today, data={
            "value": 75, "justification": "Board agreed: until June",
            "expires_on": today + timedelta(days=200)})

    sent_while_held(london, set_again, lambda: sweep(london, overrides, later))
    with london.read() as session:
        project = session.execute(select(Project).where(Project.slug == SLUG)).scalars().one()
    assert project.priority_override == 75
    assert project.override_justification == "Board agreed: until June"
