"""Two profiles retired at once never leave the portfolio without a profile in use.

Found in review: each retirement checked that another profile was still in use by reading
rows no lock covers, so on PostgreSQL two admins retiring the last two profiles at once both
passed the check.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portfolio.actors import SYSTEM
from portfolio.db import Database
from portfolio.errors import Invalid
from portfolio.models import WeightProfile
from portfolio.services import profiles
from tests.racing import sent_while_held


@pytest.fixture
def backend() -> str:
    """Concurrent transactions of PostgreSQL (SQLite's one writer serialises them)."""
    return "postgresql"


def test_the_last_two_profiles_retired_at_once_leave_one_in_use(london: Database) -> None:
    with london.read() as session:
        names = session.execute(select(WeightProfile.name).where(
            WeightProfile.retired_at.is_(None)).order_by(WeightProfile.id)).scalars().all()
    *others, first, second = names
    for name in others:
        with london.write() as session:
            profiles.retire_profile(session=session, actor=SYSTEM, name=name)

    def retire_first(session: Session) -> None:
        profiles.retire_profile(session=session, actor=SYSTEM, name=first)

    def retire_second() -> str:
        try:
            with london.write() as session:
                profiles.retire_profile(session=session, actor=SYSTEM, name=second)
        except Invalid as refused:
            return refused.errors["name"]
        return "retired"

    assert sent_while_held(london, retire_first, retire_second) == (
        "the last profile in use cannot be retired")
    with london.read() as session:
        in_use = session.execute(select(WeightProfile.name).where(
            WeightProfile.retired_at.is_(None))).scalars().all()
    assert in_use == [second]
