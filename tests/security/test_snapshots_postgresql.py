"""Snapshot quotas on PostgreSQL: one taken while another is stored counts that one too."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import Session

from portfolio.db import Database
from portfolio.models import Snapshot, User
from portfolio.services.accounts import actor_for
from portfolio.services.snapshots.service import check_quota
from portfolio.settings import Settings
from tests.racing import sent_while_held
from tests.web.auth import Browser, sign_in
from web.app import create_app


@pytest.fixture
def backend() -> str:
    """PostgreSQL's concurrent writers (SQLite's one writer stores snapshots in turn)."""
    return "postgresql"


def test_a_snapshot_taken_while_another_is_stored_counts_it(settings: Settings,
                                                             london: Database) -> None:
    # Left open last session: both counted none taken, and a quota of one let two through.
    app = create_app(settings.model_copy(update={"snapshots_per_user_per_day": 1}))
    with Browser(app) as researcher, Browser(app) as colleague:
        email = sign_in(researcher, london, "researcher")
        sign_in(colleague, london, "researcher")
        assert colleague.post("/api/v1/snapshots", json={"label": "theirs"}).status_code == 201

        def stored_meanwhile(session: Session) -> None:
            """The researcher's other snapshot, stored as `_store` does: counted, then added."""
            user = session.execute(select(User).where(User.email == email)).scalars().one()
            check_quota(session, actor_for(user), 1)
            theirs = session.execute(select(Snapshot)).scalars().one()
            session.add(Snapshot(**theirs.model_dump(exclude={"id", "author_id", "author",
                                                              "content_hash", "label"}),
                                 author_id=user.id, author=email, label="my other",
                                 content_hash="0" * 64))

        answer = sent_while_held(london, stored_meanwhile, lambda: researcher.post(
            "/api/v1/snapshots", json={"label": "mine"}))
    assert answer.status_code == 429, answer.text[:300]
    with london.read() as session:
        assert len(session.execute(select(Snapshot)).scalars().all()) == 2
